"""UVC scanner over a stand-in for cv2.VideoCapture (no camera is needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from capture.scanner import ScannerDisconnected, ScannerError, ScannerNotFound, ScannerTimeout
from capture.uvc import UvcScanner, to_grey8


class FakeCamera:
    """Behaves like cv2.VideoCapture on a camera delivering a scripted list of reads."""

    def __init__(self, reads: list[Any], opened: bool = True, unplug_after: int | None = None):
        self.reads = list(reads)
        self.opened = opened
        self.unplug_after = unplug_after
        self.properties: dict[int, float] = {}
        self.released = False
        self.count = 0

    def isOpened(self) -> bool:
        return self.opened and not self.released

    def read(self) -> tuple[bool, Any]:
        self.count += 1
        if self.unplug_after is not None and self.count > self.unplug_after:
            self.opened = False
        if not self.opened or not self.reads:
            return False, None
        return True, self.reads.pop(0)

    def set(self, prop: int, value: float) -> bool:
        self.properties[prop] = value
        return True

    def get(self, prop: int) -> float:
        return self.properties.get(prop, 0.0)

    def release(self) -> None:
        self.released = True


def _bgr(value: int) -> np.ndarray:
    return np.full((48, 64, 3), value, np.uint8)


def test_frames_are_grey_and_warmup_frames_are_skipped() -> None:
    camera = FakeCamera([_bgr(1), _bgr(2), _bgr(3), _bgr(4)])
    with UvcScanner(0, warmup_frames=2, video_capture=lambda device: camera) as scanner:
        frame = scanner.capture()
        info = scanner.info

    assert frame.image.shape == (48, 64) and frame.image.dtype == np.uint8
    assert int(frame.image[0, 0]) == 4  # two warm-up frames, one to size the camera, then ours
    assert (info.width, info.height, info.led_control, info.kind) == (64, 48, False, "uvc")
    assert camera.released


def test_requested_size_is_passed_to_the_camera() -> None:
    import cv2

    camera = FakeCamera([_bgr(9)] * 3)
    scanner = UvcScanner(2, width=640, height=480, warmup_frames=0, video_capture=lambda d: camera)
    scanner.open()
    assert camera.properties == {cv2.CAP_PROP_FRAME_WIDTH: 640, cv2.CAP_PROP_FRAME_HEIGHT: 480}
    scanner.close()


def test_no_camera_fails_clearly() -> None:
    camera = FakeCamera([], opened=False)
    with pytest.raises(ScannerNotFound, match=r"no UVC camera at 3.*/dev/video3"):
        UvcScanner(3, video_capture=lambda device: camera).open()
    assert camera.released


def test_real_opencv_without_a_camera_is_not_found() -> None:
    with pytest.raises(ScannerNotFound, match="no UVC camera"):
        UvcScanner("/nonexistent/video-device-for-test").open()


def test_camera_that_stops_delivering_is_a_timeout() -> None:
    camera = FakeCamera([_bgr(5)])
    with (
        UvcScanner(0, warmup_frames=0, video_capture=lambda device: camera) as scanner,
        pytest.raises(ScannerTimeout, match="no frame in 3 attempts"),
    ):
        scanner.capture()


def test_unplugged_camera_is_a_disconnect() -> None:
    camera = FakeCamera([_bgr(5)] * 10, unplug_after=2)
    with UvcScanner(0, warmup_frames=0, video_capture=lambda device: camera) as scanner:
        scanner.capture()
        with pytest.raises(ScannerDisconnected, match="went away"):
            scanner.capture()


def test_led_off_capture_is_refused_and_sets_hold_the_lit_frame_only() -> None:
    camera = FakeCamera([_bgr(7)] * 3)
    with UvcScanner(0, warmup_frames=0, video_capture=lambda device: camera) as scanner:
        with pytest.raises(ScannerError, match="no control of their illuminator"):
            scanner.capture(led=False)
        frames = scanner.capture_set()
    assert frames.ambient is None and int(frames.lit.image[0, 0]) == 7


def test_sixteen_bit_and_single_channel_frames_become_grey8() -> None:
    deep = np.full((4, 5), 0xABCD, np.uint16)
    np.testing.assert_array_equal(to_grey8(deep), np.full((4, 5), 0xAB, np.uint8))
    single = np.full((4, 5, 1), 17, np.uint8)
    np.testing.assert_array_equal(to_grey8(single), np.full((4, 5), 17, np.uint8))
    with pytest.raises(ValueError, match="uint8 or uint16"):
        to_grey8(np.zeros((4, 5), np.float32))
