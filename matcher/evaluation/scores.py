"""Score files: one line per comparison, in the 4-column text format of Idiap's bob.

Each line holds four whitespace-separated fields::

    <enrolled identity> <probe identity> <probe file> <score>

The comparison is genuine (mated) exactly when the first two fields are
equal. Fields are percent-encoded (RFC 3986) so identities or paths with
spaces survive; plain names are written unchanged. Scores are written with
9 significant digits, which round-trips float32 exactly. A path ending in
``.gz`` is read and written gzip-compressed.
"""

from __future__ import annotations

import functools
import gzip
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self, cast
from urllib.parse import quote, unquote

import numpy as np
import numpy.typing as npt

_SAFE = "/:@!$&'()*+,;=-._~"


class ScoreFileError(ValueError):
    """A score file line that is not four fields with a numeric score."""


@functools.lru_cache(maxsize=1 << 16)  # the same enrolled ids recur on every line block
def _encode(field: str) -> str:
    return quote(field, safe=_SAFE)


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        # level 6: most of level 9's size at several times its speed
        return cast(IO[str], gzip.open(path, mode + "t", encoding="utf-8", compresslevel=6))
    return open(path, mode, encoding="utf-8")


class ScoreWriter:
    """Streams comparisons to a score file, a block of scores per call.

    Use as a context manager; nothing is held in memory beyond one block.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = _open(path, "w")
        self.lines = 0

    def write(
        self,
        enrolled_ids: Sequence[str],
        probe_id: str,
        probe_file: str,
        scores: npt.ArrayLike,
    ) -> None:
        """Write one probe's scores against a list of enrolled identities."""
        values = np.asarray(scores, dtype=np.float32).ravel()
        if values.size != len(enrolled_ids):
            raise ScoreFileError(f"{values.size} scores for {len(enrolled_ids)} enrolled ids")
        tail = f" {_encode(probe_id)} {_encode(probe_file)} "
        # 9 significant digits of the (exactly widened) float32 round-trip it exactly.
        self._file.write(
            "".join(
                f"{_encode(e)}{tail}{v:.9g}\n"
                for e, v in zip(enrolled_ids, values.tolist(), strict=True)
            )
        )
        self.lines += values.size

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class ScoreLine:
    """One comparison read back from a score file."""

    enrolled_id: str
    probe_id: str
    probe_file: str
    score: float

    @property
    def genuine(self) -> bool:
        return self.enrolled_id == self.probe_id


def iter_scores(path: Path) -> Iterator[ScoreLine]:
    """Lines of a score file, one at a time."""
    with _open(path, "r") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 4:
                raise ScoreFileError(f"{path}:{number}: {len(fields)} fields, expected 4")
            try:
                score = float(fields[3])
            except ValueError:
                raise ScoreFileError(f"{path}:{number}: score {fields[3]!r} is not a number")
            yield ScoreLine(unquote(fields[0]), unquote(fields[1]), unquote(fields[2]), score)


def read_genuine_impostor(
    path: Path,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Genuine and impostor scores of a score file, as float32 arrays.

    A lean loop (no per-line objects): millions of lines take seconds.
    """
    # array('f') holds 4 bytes a score, not a Python float object each.
    genuine = array("f")
    impostor = array("f")
    with _open(path, "r") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if len(fields) != 4:
                if not fields:
                    continue
                raise ScoreFileError(f"{path}:{number}: {len(fields)} fields, expected 4")
            enrolled, probe, _, score = fields
            # Encoded fields compare equal when the names do, unless a writer encoded
            # differently; decode only then.
            same = enrolled == probe or (
                "%" in enrolled + probe and unquote(enrolled) == unquote(probe)
            )
            try:
                (genuine if same else impostor).append(float(score))
            except ValueError:
                raise ScoreFileError(f"{path}:{number}: score {score!r} is not a number")
    return (
        np.frombuffer(genuine, dtype=np.float32).copy(),
        np.frombuffer(impostor, dtype=np.float32).copy(),
    )
