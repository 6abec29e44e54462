"""Speed of the presentation-attack check on a 640x480 LED-off/LED-on pair (``make bench``).

Target: a few milliseconds per pair on one core, so every pair of a capture session can be
checked. ``frame_touch`` (shrinking both frames once) is the baseline measured in the same run.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from biometric.pad import score_frames
from capture.simulated import SimulatedSensor


@pytest.fixture(scope="module", autouse=True)
def one_core() -> None:
    cv2.setNumThreads(1)


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    sensor = SimulatedSensor(seed=5, geometry="contactless")
    return sensor.capture(1, 1, 0, led=False).image, sensor.capture(1, 1, 0).image


def test_pad_score_640x480(benchmark, pair: tuple[np.ndarray, np.ndarray]) -> None:  # type: ignore[no-untyped-def]
    result = benchmark(score_frames, *pair)
    assert result.is_live()


def test_frame_touch_640x480(benchmark, pair: tuple[np.ndarray, np.ndarray]) -> None:  # type: ignore[no-untyped-def]
    def touch() -> None:
        for frame in pair:
            cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)

    benchmark(touch)
