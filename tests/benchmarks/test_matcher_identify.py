"""Speed of 1:N identification (``make bench``): shortlist codes and a search in a gallery of
20,000 templates built like ``palmvein bench identify`` builds its galleries (which reports the
full measurement with recall, baselines and the bandwidth floor)."""

from __future__ import annotations

import numpy as np
import pytest

from matcher import PalmIndex
from matcher.benchmark import background_templates, simulated_bases, simulated_palms
from matcher.codes import code_bits, shortlist_codes
from matcher.index import Geometry

GALLERY = 20_000


@pytest.fixture(scope="module")
def gallery() -> tuple[PalmIndex, list]:
    enrolment, probes = simulated_palms(8, seed=3)
    bases = simulated_bases(1000, 30, seed=3)
    index = PalmIndex()
    for subject, templates in enrolment.items():
        for t in templates:
            index.add(subject, t)
    geometry = Geometry.of(bases[0])
    rng = np.random.default_rng(0)
    made = 0
    for planes, mask in background_templates(bases, GALLERY - len(index), 0.01, rng):
        index.add_many([f"bg-{made + i}" for i in range(len(planes))], planes, mask, geometry)
        made += len(planes)
    return index, list(probes.items())


def test_identify_latency(benchmark, gallery) -> None:  # type: ignore[no-untyped-def]
    index, probes = gallery
    subject, probe = probes[0]
    found = benchmark(index.search, probe, 5)
    assert found[0].subject_id == subject


def test_shortlist_codes_of_10k_templates(benchmark, gallery) -> None:  # type: ignore[no-untyped-def]
    index, _ = gallery
    contents = index.contents()
    planes, mask = contents.planes[:10_000], contents.mask[:10_000]
    codes = benchmark(shortlist_codes, planes, mask, contents.geometry.cols)
    assert codes.shape == (10_000, code_bits(planes.shape[1], 32, 32) // 8)
