"""Impostor distributions: thresholds keep the false-match rate they promise."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import numpy as np
import pytest
from scipy import stats

import biometric
from biometric.compare import comparator
from matcher import CalibrationError, ImpostorDistribution, shipped
from matcher.evaluation import error_rates

if TYPE_CHECKING:
    from conftest import Palms

RNG = np.random.default_rng(7)
NORMAL = RNG.normal(0.53, 0.012, 300_000)
DIST = ImpostorDistribution.from_scores(NORMAL, "test-algorithm", {"source": "unit test"})


@pytest.mark.parametrize("fmr", [1e-1, 1e-2, 1e-3, 1e-4])
def test_empirical_thresholds_keep_the_rate_on_the_scores_they_came_from(fmr: float) -> None:
    t = DIST.threshold_for(fmr)
    assert not t.extrapolated
    measured = float(np.mean(NORMAL >= t.score))
    assert measured <= fmr
    # ... and are not needlessly strict: one score lower would accept more than fmr allows,
    # to within a histogram bin for the bulk of the distribution.
    assert measured >= fmr * 0.5


@pytest.mark.parametrize("fmr", [1e-6, 1e-8, 1e-10])
def test_extrapolated_thresholds_are_flagged_and_err_on_the_safe_side(fmr: float) -> None:
    t = DIST.threshold_for(fmr)
    assert t.extrapolated
    assert t.score > DIST.tail[0] or fmr * DIST.count < 10
    # For a normal population the exponential tail model is conservative.
    assert t.score >= stats.norm.isf(fmr, 0.53, 0.012)
    assert DIST.fmr_at(t.score) == pytest.approx(fmr, rel=1e-6)


def test_fmr_at_inverts_threshold_for_in_the_measured_range() -> None:
    for fmr in (0.3, 0.05, 1e-3):
        assert DIST.fmr_at(DIST.threshold_for(fmr).score) <= fmr


def test_json_round_trip_keeps_provenance_comparator_and_thresholds() -> None:
    again = ImpostorDistribution.from_json(DIST.to_json())
    assert again.provenance == {"source": "unit test"}
    assert again.comparator is None
    made = ImpostorDistribution.from_scores(NORMAL, "x", comparator="masked-hamming/test")
    assert ImpostorDistribution.from_json(made.to_json()).comparator == "masked-hamming/test"
    for fmr in (1e-2, 1e-5, 1e-9):
        assert again.threshold_for(fmr).score == pytest.approx(DIST.threshold_for(fmr).score,
                                                               abs=2e-6)


def test_too_few_scores_or_impossible_rates_are_refused() -> None:
    with pytest.raises(CalibrationError):
        ImpostorDistribution.from_scores(NORMAL[:50], "x")
    with pytest.raises(CalibrationError):
        DIST.threshold_for(0.0)
    with pytest.raises(CalibrationError):
        ImpostorDistribution.from_json('{"format": "something else"}')


def test_unknown_algorithm_has_no_shipped_distribution() -> None:
    with pytest.raises(CalibrationError, match="python -m matcher.calibration"):
        shipped("no-such-algorithm")


def test_the_shipped_distribution_holds_the_current_comparators_scores() -> None:
    dist = shipped(biometric.ALGORITHM)
    assert dist.comparator == comparator().id


@pytest.mark.parametrize("rotation", [2.0, 3.0])
def test_a_distribution_of_another_comparator_is_refused(
    monkeypatch: pytest.MonkeyPatch, rotation: float
) -> None:
    # The rotation search changes scores of unchanged templates: thresholds read off the
    # scores of another setting would not keep their false-match rate.
    assert comparator().rotation != rotation
    monkeypatch.setattr(importlib.import_module("biometric.compare"), "ROTATION", rotation)
    assert comparator().rotation == rotation
    with pytest.raises(CalibrationError, match="comparator"):
        shipped(biometric.ALGORITHM)


def test_a_file_without_a_comparator_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from matcher import calibration

    legacy = ImpostorDistribution.from_scores(NORMAL, biometric.ALGORITHM)
    monkeypatch.setattr(calibration, "_shipped_file", lambda algorithm: legacy)
    with pytest.raises(CalibrationError, match="python -m matcher.calibration"):
        shipped()


def test_shipped_distribution_keeps_its_promise_on_fresh_simulated_impostors(
    palms: Palms,
) -> None:
    dist = shipped(biometric.ALGORITHM)
    assert dist.provenance["generator"] == "python -m matcher.calibration"
    # Every pair of test templates of different palms (another sensor seed than the shipped).
    labelled = [(s, t) for s in palms.subjects() for t in palms.enrolment[s]]
    stack = biometric.TemplateStack([t for _, t in labelled])
    fresh = np.concatenate([
        biometric.compare_many(t, stack)[i + 1:][
            [other != s for other, _ in labelled[i + 1:]]]
        for i, (s, t) in enumerate(labelled[:-1])
    ])
    assert len(fresh) > 200
    for fmr in (0.2, 0.05, 0.01):
        threshold = dist.threshold_for(fmr).score
        rate, _ = error_rates([1.0], fresh, [threshold])
        observed = round(float(rate[0]) * len(fresh))
        # Observed false matches must be plausible under the promised rate (binomial, 1e-4 tail).
        assert observed <= stats.binom.isf(1e-4, len(fresh), fmr)
