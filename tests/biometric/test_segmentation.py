"""Hand segmentation: how small a hand may be in the frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from biometric import compare, extract
from biometric.errors import QualityError
from biometric.segmentation import MIN_AREA_FRACTION, segment_hand
from capture.simulated import SimulatedCapture


def _held_far(frame: np.ndarray, factor: float, seed: int = 0) -> np.ndarray:
    """The frame as seen with the hand ``factor`` times as far: shrunk, on dark noise."""
    rng = np.random.default_rng(seed)
    small = cv2.resize(frame, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    background = float(np.percentile(frame, 5))
    canvas = np.clip(background + rng.normal(0.0, 1.5, frame.shape), 0, 255).astype(np.uint8)
    top = (frame.shape[0] - small.shape[0]) // 2
    left = (frame.shape[1] - small.shape[1]) // 2
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
    return canvas


def test_a_hand_held_far_from_the_scanner_still_matches(captures: list[SimulatedCapture]) -> None:
    # Captures 0 and 2 are identity 0's first samples of sessions 1 and 2 (conftest.CAPTURES).
    enrolled = extract(captures[0].image)
    far = _held_far(captures[2].image, 0.55)
    hand = segment_hand(far)
    assert 0.03 < hand.mean() < 0.08  # below the 8 % that used to be refused
    assert compare(enrolled, extract(far)) > 0.62  # FMR 1e-4 threshold ~0.60


def test_a_speck_is_not_a_hand(captures: list[SimulatedCapture]) -> None:
    far = _held_far(captures[0].image, 0.3)
    with pytest.raises(QualityError, match="closer") as err:
        segment_hand(far)
    assert err.value.reasons == ("no_hand",)
    assert MIN_AREA_FRACTION > 0.02
