"""`palmvein bench identify` measures the index as it is shipped unless told otherwise."""

import inspect

import pytest

from matcher.codes import BLOCK
from matcher.index import DEFAULT_COARSE, DEFAULT_SHORTLIST
from palmvein.cli.bench_cmd import identify_command


@pytest.mark.parametrize(
    ("option", "shipped"),
    [("coarse", DEFAULT_COARSE), ("shortlist", DEFAULT_SHORTLIST), ("block", BLOCK)],
)
def test_the_benchmark_defaults_are_the_index_defaults(option: str, shipped: int) -> None:
    # The CLI cannot import matcher.index at start (faiss is slow to load), so it repeats the
    # numbers; a benchmark of another configuration than production's would mislead.
    assert inspect.signature(identify_command).parameters[option].default == shipped
