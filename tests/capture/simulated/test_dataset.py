"""Writing simulated datasets in the folder layout with their ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from capture.simulated import SimulatedSensor, write_dataset
from capture.simulated.dataset import identity_folder, sample_name


def test_names_encode_identity_session_and_sample() -> None:
    assert sample_name(0, 2) == "s1_03.png"
    assert sample_name(1, 9) == "s2_10.png"
    assert identity_folder(7) == "0007"
    assert identity_folder(7, "left") == "0007L"


def test_dataset_files_match_the_sensor_and_truth(tmp_path: Path) -> None:
    root = write_dataset(
        tmp_path / "sim",
        2,
        sessions=2,
        samples_per_session=2,
        geometry="pegged",
        seed=4,
        hands=("right", "left"),
        progress=False,
    )
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    assert len(files) == 2 * 2 * 2 * 2
    assert "0001/s2_02.png" in files and "0000L/s1_01.png" in files
    truth = json.loads((root / "truth.json").read_text())
    assert truth["geometry"] == "pegged" and truth["seed"] == 4
    assert sorted(truth["images"]) == files
    entry = truth["images"]["0001/s2_02.png"]
    assert (entry["identity"], entry["session"], entry["sample"]) == (1, 1, 1)
    expected = SimulatedSensor(seed=4, geometry="pegged").capture(1, 1, 1)
    written = cv2.imread(str(root / "0001/s2_02.png"), cv2.IMREAD_UNCHANGED)
    assert written is not None
    assert np.array_equal(written, expected.image)
    assert entry["roi_center"] == list(expected.roi_center)
