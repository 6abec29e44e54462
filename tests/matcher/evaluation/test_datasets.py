"""Dataset layouts parsed from temporary trees of tiny generated images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from matcher.evaluation import DatasetError, limit_identities, load_samples


def _png(path: Path, value: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((8, 8), value, np.uint8))
    return path


def test_folder_layout_reads_identities_and_session_prefixes(tmp_path):
    for identity in ("alice", "bob"):
        for name in ("s1_01", "s1_02", "s2_01"):
            _png(tmp_path / identity / f"{name}.png")
    (tmp_path / "alice" / "notes.txt").write_text("not an image")
    samples = load_samples(tmp_path, "folder")
    assert [(s.identity, s.session, s.name) for s in samples] == [
        ("alice", 1, "s1_01"),
        ("alice", 1, "s1_02"),
        ("alice", 2, "s2_01"),
        ("bob", 1, "s1_01"),
        ("bob", 1, "s1_02"),
        ("bob", 2, "s2_01"),
    ]
    assert samples[0].path == tmp_path / "alice" / "s1_01.png"


def test_folder_layout_without_session_prefixes_has_unknown_sessions(tmp_path):
    _png(tmp_path / "p1" / "a.jpg")
    _png(tmp_path / "p1" / "b.bmp")
    assert {s.session for s in load_samples(tmp_path, "folder")} == {None}


def test_folder_layout_refuses_half_labelled_sessions(tmp_path):
    _png(tmp_path / "p1" / "s1_a.png")
    _png(tmp_path / "p1" / "b.png")
    with pytest.raises(DatasetError, match="some but not all"):
        load_samples(tmp_path, "folder")


def _polyu(root: Path) -> None:
    for palm in ("0001", "0002"):
        for session in (1, 2):
            for n in (1, 2):
                _png(root / palm / f"{session}_{n:02d}.jpg")


@pytest.mark.parametrize("parent", [False, True])
def test_polyu_layout_accepts_the_nir_folder_or_its_parent(tmp_path, parent):
    _polyu(tmp_path / "NIR")
    samples = load_samples(tmp_path if parent else tmp_path / "NIR", "polyu")
    assert len(samples) == 8
    assert samples[0].identity == "0001" and samples[0].session == 1 and samples[0].name == "1_01"
    assert [s.session for s in samples if s.identity == "0002"] == [1, 1, 2, 2]


def test_casia_layout_keeps_one_band_and_pairs_subject_with_hand(tmp_path):
    for subject in ("001", "002"):
        for hand in ("l", "r"):
            for band in ("850", "940"):
                for n in (1, 4):
                    _png(tmp_path / subject / f"{subject}_{hand}_{band}_{n:02d}.jpg")
    samples = load_samples(tmp_path, "casia")
    assert len(samples) == 8
    assert sorted({s.identity for s in samples}) == ["001_l", "001_r", "002_l", "002_r"]
    assert all("_850_" in s.name for s in samples)
    assert {s.session for s in samples} == {None}
    assert all("_940_" in s.name for s in load_samples(tmp_path, "casia", wavelength="940"))


def test_casia_sessions_by_sample_number_when_asked(tmp_path):
    for n in range(1, 7):
        _png(tmp_path / f"007_r_850_{n:02d}.jpg")  # flat layout
    samples = load_samples(tmp_path, "casia", casia_sessions=True)
    assert [s.session for s in samples] == [1, 1, 1, 2, 2, 2]


def test_casia_missing_band_lists_the_bands_present(tmp_path):
    _png(tmp_path / "001_l_460_01.jpg")
    with pytest.raises(DatasetError, match="bands present: 460"):
        load_samples(tmp_path, "casia")


@pytest.mark.parametrize("layout", ["folder", "polyu", "casia"])
def test_empty_directory_is_a_clear_error(tmp_path, layout):
    with pytest.raises(DatasetError, match=f"no {layout} images"):
        load_samples(tmp_path, layout)


def test_missing_directory_and_unknown_layout(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_samples(tmp_path / "nowhere", "folder")
    with pytest.raises(DatasetError, match="unknown layout"):
        load_samples(tmp_path, "lfw")


def test_polyu_tree_is_not_a_casia_dataset(tmp_path):
    _polyu(tmp_path)
    with pytest.raises(DatasetError, match="no casia images"):
        load_samples(tmp_path, "casia")


def test_limit_identities_keeps_the_first_ones_in_order(tmp_path):
    _polyu(tmp_path)
    kept = limit_identities(load_samples(tmp_path, "polyu"), 1)
    assert {s.identity for s in kept} == {"0001"} and len(kept) == 4
