"""Error rates on worked examples with known answers, and their invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.evaluation import metrics

# --- verification: worked examples ------------------------------------------------------------


def test_eer_where_an_operating_point_has_equal_rates():
    # threshold 0.75 accepts 1 of 3 impostors and rejects 1 of 3 genuines
    result = metrics.eer([0.9, 0.8, 0.7], [0.1, 0.2, 0.75])
    assert result.eer == pytest.approx(1 / 3)


def test_eer_interpolates_between_operating_points():
    # points (FMR, FNMR): (1, 0) (1/2, 0) (1/2, 1/3) (0, 1/3) (0, 1); the segment from
    # (1/2, 1/3) to (0, 1/3) crosses FMR = FNMR at 1/3.
    result = metrics.eer([0.4, 0.8, 0.9], [0.1, 0.5])
    assert result.eer == pytest.approx(1 / 3)


def test_perfectly_separated_scores_give_zero_eer():
    result = metrics.eer([0.7, 0.8, 0.95], [0.1, 0.3, 0.69])
    assert result.eer == 0.0
    assert result.fmr == 0.0 and result.fnmr == 0.0
    assert 0.69 < result.threshold <= 0.7


def test_reversed_scores_give_eer_one():
    assert metrics.eer([0.1, 0.2], [0.8, 0.9]).eer == 1.0


def test_all_scores_tied_give_eer_one_half():
    # one threshold accepts all, the next none: the tie is a diagonal ROC segment
    assert metrics.eer([0.5, 0.5], [0.5, 0.5, 0.5]).eer == pytest.approx(0.5)


def test_det_curve_of_a_small_case():
    curve = metrics.det_curve([0.6, 0.9], [0.5, 0.7])
    np.testing.assert_allclose(curve.thresholds[:-1], [0.5, 0.6, 0.7, 0.9])
    assert curve.thresholds[-1] > 0.9
    np.testing.assert_allclose(curve.fmr, [1.0, 0.5, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(curve.fnmr, [0.0, 0.0, 0.5, 0.5, 1.0])


def test_fnmr_at_fmr_takes_the_most_permissive_threshold_within_target():
    impostor = np.arange(3000) / 3000  # the top 3 are 2997/3000 ... 2999/3000
    genuine = np.array([0.5, 0.99, 0.999, 0.9995, 1.0])
    point = metrics.fnmr_at_fmr(genuine, impostor, 1e-3)
    assert point.measurable
    assert point.threshold == pytest.approx(2997 / 3000)
    assert point.false_positive_rate == pytest.approx(1e-3)
    assert point.false_negative_rate == pytest.approx(2 / 5)  # 0.5 and 0.99 rejected


def test_tied_impostors_at_the_threshold_are_accepted_or_rejected_together():
    # 4 impostors tie at 0.9; accepting them gives FMR 4/3000 > 1e-3, so all four and the
    # genuine score tied with them are rejected
    impostor = np.r_[np.zeros(2996), np.full(4, 0.9)]
    point = metrics.fnmr_at_fmr([0.9, 0.95], impostor, 1e-3)
    assert point.false_positive_rate == 0.0
    assert point.threshold is not None and point.threshold > 0.9
    assert point.false_negative_rate == pytest.approx(0.5)


def test_fmr_target_needs_three_over_fmr_impostor_pairs():
    genuine = np.ones(10)
    short = metrics.fnmr_at_fmr(genuine, np.zeros(29_999), 1e-4)
    assert not short.measurable
    assert short.false_negative_rate is None and short.threshold is None
    assert short.negatives_needed == 30_000
    assert "30000" in short.reason
    assert metrics.fnmr_at_fmr(genuine, np.zeros(30_000), 1e-4).measurable
    assert metrics.negatives_needed(1e-3) == 3000


def test_threshold_at_zero_rate_accepts_nothing_seen():
    t = metrics.threshold_at([0.1, 0.4, 0.4], 0.0)
    assert t > 0.4 and t == np.nextafter(0.4, 1.0)


def test_bad_scores_are_refused():
    with pytest.raises(metrics.MetricsError, match="no genuine"):
        metrics.eer([], [0.1])
    with pytest.raises(metrics.MetricsError, match="NaN"):
        metrics.eer([0.5, np.nan], [0.1])
    with pytest.raises(metrics.MetricsError, match="target"):
        metrics.threshold_at([0.1], 1.5)


# --- verification: invariants ---------------------------------------------------------------

scores = st.lists(
    st.floats(0.0, 1.0, allow_nan=False).map(lambda v: round(v, 2)),  # rounding makes ties
    min_size=1,
    max_size=40,
)


def _brute_rates(genuine: list[float], impostor: list[float], t: float) -> tuple[float, float]:
    fmr = sum(s >= t for s in impostor) / len(impostor)
    fnmr = sum(s < t for s in genuine) / len(genuine)
    return fmr, fnmr


@settings(max_examples=200, deadline=None)
@given(scores, scores)
def test_det_curve_matches_counting_and_is_monotonic(genuine, impostor):
    curve = metrics.det_curve(genuine, impostor)
    assert np.all(np.diff(curve.thresholds) > 0)
    assert np.all(np.diff(curve.fmr) <= 0) and np.all(np.diff(curve.fnmr) >= 0)
    assert (curve.fmr[0], curve.fnmr[0]) == (1.0, 0.0)
    assert (curve.fmr[-1], curve.fnmr[-1]) == (0.0, 1.0)
    for t, fmr, fnmr in zip(curve.thresholds, curve.fmr, curve.fnmr, strict=True):
        assert (fmr, fnmr) == pytest.approx(_brute_rates(genuine, impostor, t))


@settings(max_examples=200, deadline=None)
@given(scores, scores)
def test_eer_lies_between_the_operating_points_around_the_crossing(genuine, impostor):
    result = metrics.eer(genuine, impostor)
    curve = metrics.det_curve(genuine, impostor)
    assert 0.0 <= result.eer <= 1.0
    # no threshold beats the EER on both errors, and none is worse on both
    assert result.eer <= np.min(np.maximum(curve.fmr, curve.fnmr)) + 1e-12
    assert result.eer >= np.max(np.minimum(curve.fmr, curve.fnmr)) - 1e-12


@settings(max_examples=100, deadline=None)
@given(scores, scores)
def test_eer_is_zero_once_genuine_scores_are_lifted_above_all_impostors(genuine, impostor):
    lifted = np.asarray(genuine) + max(impostor) - min(genuine) + 0.01
    assert metrics.eer(lifted, impostor).eer == 0.0


@settings(max_examples=100, deadline=None)
@given(scores, scores)
def test_eer_does_not_depend_on_a_monotonic_rescaling(genuine, impostor):
    rescaled = metrics.eer(np.asarray(genuine) * 3 - 1, np.asarray(impostor) * 3 - 1)
    assert rescaled.eer == pytest.approx(metrics.eer(genuine, impostor).eer)


@settings(max_examples=100, deadline=None)
@given(scores, scores, st.sampled_from([0.0, 0.01, 0.1, 0.25, 0.5]))
def test_threshold_at_target_is_the_most_permissive_within_target(genuine, impostor, target):
    t = metrics.threshold_at(impostor, target)
    fmr, _ = _brute_rates(genuine, impostor, t)
    assert fmr <= target
    lower = [s for s in set(impostor) if s < t]
    if lower:  # the next lower candidate threshold breaks the target
        assert _brute_rates(genuine, impostor, max(lower))[0] > target


# --- identification -------------------------------------------------------------------------

GALLERY = ["ann", "ann", "bob", "cat"]


def test_identity_score_is_the_best_of_its_samples():
    ids = metrics.identity_scores([[0.2, 0.9, 0.5, 0.1]], GALLERY)
    assert list(ids.identities) == ["ann", "bob", "cat"]
    np.testing.assert_allclose(ids.scores, [[0.9, 0.5, 0.1]])


def test_ranks_count_ties_against_the_true_identity_by_default():
    matrix = [
        [0.2, 0.9, 0.5, 0.1],  # ann best: rank 1
        [0.8, 0.1, 0.7, 0.1],  # bob 0.7 < ann 0.8: rank 2
        [0.3, 0.6, 0.2, 0.6],  # cat ties ann at 0.6: rank 2 (pessimistic), 1 (optimistic)
    ]
    probes = ["ann", "bob", "cat"]
    assert list(metrics.ranks(matrix, probes, GALLERY)) == [1, 2, 2]
    assert list(metrics.ranks(matrix, probes, GALLERY, ties="optimistic")) == [1, 2, 1]
    assert metrics.rank1(matrix, probes, GALLERY) == pytest.approx(1 / 3)
    np.testing.assert_allclose(metrics.cmc(metrics.ranks(matrix, probes, GALLERY)), [1 / 3, 1])


def test_cmc_is_cut_or_padded_to_max_rank():
    np.testing.assert_allclose(metrics.cmc([1, 3, 5, 1], max_rank=3), [0.5, 0.5, 0.75])


def test_closed_set_refuses_probes_of_unenrolled_identities():
    with pytest.raises(metrics.MetricsError, match="not in the gallery"):
        metrics.ranks([[0.5, 0.5, 0.5, 0.5]], ["dan"], GALLERY)


def test_fnir_at_fpir_on_a_worked_example():
    # 300 non-mated searches, top scores 0.000 ... 0.299; FPIR 1 % accepts the top 3
    nonmated = np.arange(300) / 1000
    mated_true = [0.9, 0.5, 0.2975, 0.29]  # the last one falls below the threshold 0.297
    matrix = np.zeros((304, 2))
    matrix[:300, 0] = nonmated
    matrix[300:, 1] = mated_true
    matrix[301, 0] = 0.6  # mated search whose top candidate is the wrong identity
    probes = ["x"] * 300 + ["b"] * 4
    point = metrics.fnir_at_fpir(matrix, probes, ["a", "b"], 0.01)
    assert point.measurable
    assert point.threshold == pytest.approx(0.297)
    assert point.false_positive_rate == pytest.approx(0.01)
    assert point.false_negative_rate == pytest.approx(2 / 4)


def test_fnir_at_fpir_not_measurable_with_few_nonmated_searches():
    point = metrics.fnir_at_fpir([[0.9, 0.1], [0.2, 0.3]], ["a", "z"], ["a", "b"], 0.01)
    assert not point.measurable and point.negatives == 1 and point.negatives_needed == 300


def test_open_set_split_is_deterministic_and_halves_the_identities():
    ids = [f"id{i:03d}" for i in range(11)]
    enrolled, left_out = metrics.split_identities(ids, seed=7)
    assert metrics.split_identities(list(reversed(ids)), seed=7) == (enrolled, left_out)
    assert len(enrolled) == 6 and len(left_out) == 5
    assert set(enrolled) | set(left_out) == set(ids) and not set(enrolled) & set(left_out)
    assert metrics.split_identities(ids, seed=8) != (enrolled, left_out)
