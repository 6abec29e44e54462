"""Capture sessions on the emulated USB scanner: presence, ambient subtraction, best of N."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from capture.folder import FolderScanner
from capture.session import CaptureSession, NoHandPresented, SessionSettings, subtract_ambient
from capture.usb.driver import UsbScanner
from capture.usb.emulated import EmulatedBackend, EmulatedScanner


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _mean(image: np.ndarray) -> float:
    return float(image.mean())


# The stepped test pattern is no hand (noise-free frames): these tests are about presence and
# best-of-N, so the liveness check is off here and tested in test_capture_session_pad.py.
NO_PAD = {"pad_threshold": None}


class SteppedSource:
    """Ambient of 30 everywhere; LED-on frames whose added light follows a script."""

    def __init__(self, lit_levels: list[int]) -> None:
        self.levels = list(lit_levels)

    def __call__(self, led_on: bool, intensity: int) -> np.ndarray:
        image = np.full((48, 64), 30, np.uint8)
        if led_on:
            image[8:40, 8:56] += np.uint8(self.levels.pop(0))
        return image


def _scanner(source: SteppedSource) -> tuple[UsbScanner, EmulatedScanner]:
    device = EmulatedScanner(width=64, height=48, chunk_bytes=1024, frame_source=source)
    return UsbScanner(backend=EmulatedBackend([device])), device


def test_session_waits_for_a_steady_hand_in_range_then_keeps_the_best_frame() -> None:
    scanner, device = _scanner(SteppedSource([40, 120, 80]))
    device.script_distance(
        [(400, False), (200, True), (90, True), (300, True), (95, True), (96, True)]
    )
    device.distance_mm, device.hand_present = 100, True  # where the hand then stays
    clock = FakeClock()
    with scanner:
        session = CaptureSession(
            scanner, _mean, SessionSettings(frames=3, **NO_PAD), clock=clock, sleep=clock.sleep
        )
        result = session.run()

    # The best pair is the second, taken after a reading of 100 mm.
    assert result.distance is not None and result.distance.distance_mm == 100
    assert clock.now == pytest.approx(5 * 0.05)
    assert result.qualities == pytest.approx(
        [_mean(np.pad(np.full((32, 48), v, np.uint8), ((8, 8), (8, 8)))) for v in (40, 120, 80)]
    )
    assert result.quality == max(result.qualities)
    assert result.frames.lit.sequence == 4  # the second pair: frames 3 (off) and 4 (on)
    # Ambient removed: the background is 0 and the lit area keeps only the LED's light.
    assert result.image[0, 0] == 0 and result.image[20, 20] == 120


def test_session_waits_again_when_the_hand_leaves_between_pairs() -> None:
    scanner, device = _scanner(SteppedSource([10, 20, 30]))
    device.script_distance(
        [(90, True), (90, True), (300, True), (95, True), (97, True), (99, True)]
    )
    clock = FakeClock()
    with scanner:
        session = CaptureSession(
            scanner, _mean, SessionSettings(frames=3, **NO_PAD), clock=clock, sleep=clock.sleep
        )
        result = session.run()

    assert len(result.qualities) == 3 and result.frames.lit.sequence == 6
    assert result.distance is not None and result.distance.distance_mm == 99
    assert clock.now == pytest.approx(2 * 0.05)  # one pause before the first pair, one after 300


def test_session_gives_up_when_no_hand_comes() -> None:
    scanner, device = _scanner(SteppedSource([]))
    device.distance_mm, device.hand_present = 300, True
    clock = FakeClock()
    with scanner:
        session = CaptureSession(
            scanner, _mean, SessionSettings(presence_timeout_s=2.0), clock=clock, sleep=clock.sleep
        )
        with pytest.raises(NoHandPresented, match=r"50-120 mm within 2 s \(last reading: 300 mm\)"):
            session.run()
    assert device.served == []


def test_scanners_without_distance_sensor_or_led_capture_at_once(tmp_path: Path) -> None:
    for k, level in enumerate((10, 200, 50)):
        cv2.imwrite(str(tmp_path / f"{k}.png"), np.full((8, 8), level, np.uint8))
    with FolderScanner(tmp_path) as scanner:
        result = CaptureSession(scanner, _mean, SessionSettings(frames=3)).run()
    assert result.distance is None and result.frames.ambient is None
    assert result.quality == 200.0 and result.image[0, 0] == 200


@given(
    arrays(np.uint8, (6, 7), elements=st.integers(0, 255)),
    arrays(np.uint8, (6, 7), elements=st.integers(0, 255)),
)
def test_ambient_subtraction_never_wraps_and_leaves_inputs_alone(
    lit: np.ndarray, ambient: np.ndarray
) -> None:
    lit_before, ambient_before = lit.copy(), ambient.copy()
    result = subtract_ambient(lit, ambient)
    expected = np.maximum(lit.astype(int) - ambient.astype(int), 0)
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(lit, lit_before)
    np.testing.assert_array_equal(ambient, ambient_before)


def test_ambient_subtraction_needs_equal_sizes() -> None:
    with pytest.raises(ValueError, match="differ in size"):
        subtract_ambient(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8))
