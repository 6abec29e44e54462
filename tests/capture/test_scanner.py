"""The scanner contract: every implementation satisfies it; frames are immutable grey images."""

from __future__ import annotations

import numpy as np
import pytest

from capture.folder import FolderScanner
from capture.scanner import (
    CorruptFrame,
    DistanceSensing,
    Frame,
    Scanner,
    ScannerDisconnected,
    ScannerError,
    ScannerNotFound,
    ScannerTimeout,
)
from capture.sim import SimulatedScanner
from capture.usb.driver import UsbScanner
from capture.usb.emulated import EmulatedBackend
from capture.uvc import UvcScanner


def test_every_scanner_implements_the_protocol() -> None:
    # The annotations make mypy check each implementation against the protocol.
    scanners: list[Scanner] = [
        UsbScanner(backend=EmulatedBackend()),
        UvcScanner(0),
        FolderScanner("."),
        SimulatedScanner(),
    ]
    members = ("open", "close", "info", "capture", "capture_set", "__enter__", "__exit__")
    for scanner in scanners:
        assert all(hasattr(type(scanner), name) for name in members)


def test_only_the_usb_scanner_reads_distance() -> None:
    assert isinstance(UsbScanner(), DistanceSensing)
    assert not isinstance(FolderScanner("."), DistanceSensing)


@pytest.mark.parametrize(
    "error", [ScannerNotFound, ScannerTimeout, ScannerDisconnected, CorruptFrame]
)
def test_every_failure_is_a_scanner_error(error: type[ScannerError]) -> None:
    assert issubclass(error, ScannerError)


def test_frame_keeps_a_read_only_copy_of_a_writeable_image() -> None:
    image = np.zeros((4, 6), np.uint8)
    frame = Frame(image=image, led_on=True)
    image[0, 0] = 255

    assert frame.image[0, 0] == 0
    with pytest.raises(ValueError, match="read-only"):
        frame.image[0, 0] = 1


@pytest.mark.parametrize(
    "image", [np.zeros((4, 6, 3), np.uint8), np.zeros((4, 6), np.float32)], ids=["rgb", "float"]
)
def test_frame_refuses_anything_but_2d_uint8(image: np.ndarray) -> None:
    with pytest.raises(ValueError, match="2-D uint8"):
        Frame(image=image, led_on=True)
