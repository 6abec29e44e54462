"""Sample quality: how much of a palm may be clipped by a bright LED."""

from __future__ import annotations

import numpy as np
import pytest

from biometric import compare, extract
from biometric.errors import QualityError
from biometric.quality import region_quality
from biometric.roi import palm_roi
from capture.simulated import SimulatedCapture


def _brighter(frame: np.ndarray, gain: float) -> np.ndarray:
    """The frame with the LED or exposure ``gain`` times stronger, clipped at 255."""
    return np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def _clipped_fraction(frame: np.ndarray) -> float:
    roi = palm_roi(frame)
    return region_quality(roi.image, roi.valid).metrics["saturated"]


@pytest.mark.parametrize(("capture", "gain"), [(6, 1.2), (10, 1.6)])
def test_a_palm_partly_clipped_still_matches(
    captures: list[SimulatedCapture], capture: int, gain: float
) -> None:
    # Captures 4-7 are identity 1, 8-11 identity 2 (conftest.CAPTURES); the probe is the
    # second session's first sample, brightened until a tenth of its palm is at 255.
    enrolled = extract(captures[capture - 2].image)
    bright = _brighter(captures[capture].image, gain)
    assert 0.08 < _clipped_fraction(bright) < 0.2  # refused as overexposed above 5 % before
    plain = compare(enrolled, extract(captures[capture].image))
    # The binary orientation code loses 0.0102 on capture 10 at 12 % clipped (0.6598 -> 0.6496;
    # the competitive code lost nothing there, 0.6253 -> 0.6253, and the clipped BOCV score is
    # still above both codes' FMR 1e-4 thresholds): a sign bit near zero response flips where
    # a region goes flat, the winning orientation less often.
    assert compare(enrolled, extract(bright)) > plain - 0.015


def test_a_palm_mostly_clipped_is_overexposed(captures: list[SimulatedCapture]) -> None:
    bright = _brighter(captures[10].image, 1.8)
    assert _clipped_fraction(bright) > 0.5
    with pytest.raises(QualityError) as err:
        extract(bright)
    assert "overexposed" in err.value.reasons


def test_quality_score_falls_with_clipping(captures: list[SimulatedCapture]) -> None:
    roi = palm_roi(captures[10].image)
    scores = []
    for gain in (1.0, 1.6, 1.8):
        bright = palm_roi(_brighter(captures[10].image, gain))
        scores.append(region_quality(bright.image, bright.valid).score)
    assert region_quality(roi.image, roi.valid).score == scores[0]
    assert scores[0] > scores[1] > scores[2]
    assert scores[1] > 0  # clipped but usable: still ranks above an unusable frame
