"""Folder scanner: cycles through the images of a folder; unreadable files are corrupt frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from capture.folder import FolderScanner
from capture.scanner import CorruptFrame, ScannerError, ScannerNotFound


def _write_images(folder: Path, count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    images = []
    for k in range(count):
        image = rng.integers(0, 256, (24, 32), dtype=np.uint8)
        subject = folder / f"subject-{k % 2}"
        subject.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(subject / f"sample-{k}.png"), image)
        images.append(image)
    return images


def test_images_come_back_in_path_order_and_cycle(tmp_path: Path) -> None:
    images = _write_images(tmp_path, 4)
    expected_order = [images[0], images[2], images[1], images[3]]  # subject-0/* then subject-1/*

    with FolderScanner(tmp_path) as scanner:
        frames = [scanner.capture() for _ in range(6)]
        info = scanner.info

    for frame, expected in zip(frames, expected_order + expected_order[:2], strict=True):
        np.testing.assert_array_equal(frame.image, expected)
    assert [frame.sequence for frame in frames] == [1, 2, 3, 4, 5, 6]
    assert (info.width, info.height, info.kind, info.led_control) == (32, 24, "folder", False)


def test_colour_images_are_read_as_grey(tmp_path: Path) -> None:
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))
    cv2.imwrite(str(tmp_path / "colour.png"), cv2.merge([grey, grey, grey]))

    with FolderScanner(tmp_path) as scanner:
        frames = scanner.capture_set()

    assert frames.ambient is None
    np.testing.assert_array_equal(frames.lit.image, grey)


def test_unreadable_file_is_a_corrupt_frame_and_the_next_file_follows(tmp_path: Path) -> None:
    images = _write_images(tmp_path / "a", 1)
    (tmp_path / "b.png").write_bytes(b"this is not a PNG")

    with FolderScanner(tmp_path) as scanner:
        first = scanner.capture()
        with pytest.raises(CorruptFrame, match=r"b\.png"):
            scanner.capture()
        again = scanner.capture()

    np.testing.assert_array_equal(first.image, images[0])
    np.testing.assert_array_equal(again.image, images[0])


def test_missing_or_empty_folder_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ScannerNotFound, match="does not exist"):
        FolderScanner(tmp_path / "nowhere").open()
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(ScannerNotFound, match="holds no images"):
        FolderScanner(tmp_path).open()


def test_no_led_off_frames_from_a_folder(tmp_path: Path) -> None:
    _write_images(tmp_path, 1)
    with FolderScanner(tmp_path) as scanner, pytest.raises(ScannerError, match="no LED-off"):
        scanner.capture(led=False)
