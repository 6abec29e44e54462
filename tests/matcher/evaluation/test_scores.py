"""Score files round-trip exactly."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.evaluation.scores import (
    ScoreFileError,
    ScoreWriter,
    iter_scores,
    read_genuine_impostor,
)


@pytest.mark.parametrize("name", ["scores.txt", "scores.txt.gz"])
def test_score_file_round_trip(tmp_path, name):
    rng = np.random.default_rng(3)
    first = rng.random(3).astype(np.float32)
    second = rng.random(3).astype(np.float32)
    path = tmp_path / name
    with ScoreWriter(path) as writer:
        writer.write(["ann", "bob", "cat"], "ann", "ann/s2_01.png", first)
        writer.write(["ann", "bob", "cat"], "Dan Smith", "dan smith/100%.png", second)
        assert writer.lines == 6
    lines = list(iter_scores(path))
    assert [(x.enrolled_id, x.probe_id) for x in lines[:3]] == [
        ("ann", "ann"),
        ("bob", "ann"),
        ("cat", "ann"),
    ]
    assert lines[3].probe_id == "Dan Smith" and lines[3].probe_file == "dan smith/100%.png"
    assert [x.genuine for x in lines] == [True, False, False, False, False, False]
    genuine, impostor = read_genuine_impostor(path)
    np.testing.assert_array_equal(genuine, first[:1])  # float32 values exactly
    np.testing.assert_array_equal(impostor, np.r_[first[1:], second])


def test_plain_lines_are_four_columns(tmp_path):
    path = tmp_path / "s.txt"
    with ScoreWriter(path) as writer:
        writer.write(["0001"], "0002", "NIR/0002/2_01.jpg", [0.5])
    assert path.read_text() == "0001 0002 NIR/0002/2_01.jpg 0.5\n"


def test_malformed_lines_are_refused(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("a b c 0.5\na b 0.5\n")
    with pytest.raises(ScoreFileError, match="bad.txt:2: 3 fields"):
        list(iter_scores(path))
    path.write_text("a b c high\n")
    with pytest.raises(ScoreFileError, match="not a number"):
        list(iter_scores(path))


def test_writer_refuses_mismatched_lengths(tmp_path):
    with ScoreWriter(tmp_path / "s.txt") as writer, pytest.raises(ScoreFileError):
        writer.write(["a", "b"], "a", "f", [0.1])
