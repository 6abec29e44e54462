"""Error rates of a biometric comparator, in the terms of ISO/IEC 19795-1.

Scores are similarities (higher = more likely the same biometric source) and
a comparison is declared a *match* when ``score >= threshold``. Hence, at a
threshold ``t``:

- FMR(t)  = fraction of impostor (non-mated) comparisons with ``score >= t``;
- FNMR(t) = fraction of genuine (mated) comparisons with ``score < t``.

Both are step functions of ``t`` that only change at observed scores, so the
*operating points* are the thresholds ``t`` in the sorted set of distinct
observed scores, plus one threshold just above the largest score (nothing is
accepted). Tied scores move together: all comparisons with the same score are
accepted or rejected as one, which is what a deployed system would do.

Identification (closed-set rank / CMC, open-set FPIR / FNIR) follows the
definitions of ISO/IEC 19795-1 and NIST FRVT 1:N reports, at rank 1.

All functions are vectorised over the scores (sorting and ``searchsorted``),
so tens of millions of comparisons are handled in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Rule of three: with zero false matches in ``n`` independent trials the
#: 95 % upper confidence bound on the rate is about ``3 / n``. An FMR target
#: below that cannot be told apart from zero, so it is reported as not
#: measurable rather than as a number.
RULE_OF_THREE = 3.0

FloatArray = npt.NDArray[np.float64]


class MetricsError(ValueError):
    """Scores or labels that do not allow the requested figure."""


def _scores(values: npt.ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise MetricsError(f"no {name} scores")
    if not np.all(np.isfinite(array)):
        raise MetricsError(f"{name} scores contain NaN or infinity")
    return array


@dataclass(frozen=True)
class DetCurve:
    """Operating points of a verification system, one per candidate threshold.

    ``thresholds`` ascend; ``fmr`` does not increase and ``fnmr`` does not
    decrease along them. The first point accepts everything (FMR 1, FNMR 0),
    the last accepts nothing (FMR 0, FNMR 1).
    """

    thresholds: FloatArray
    fmr: FloatArray
    fnmr: FloatArray


def det_curve(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> DetCurve:
    """FMR and FNMR at every distinct observed score (and just above the top one).

    Parameters
    ----------
    genuine, impostor : array_like of float
        Similarity scores of mated and non-mated comparisons.

    Returns
    -------
    DetCurve
    """
    gen = np.sort(_scores(genuine, "genuine"))
    imp = np.sort(_scores(impostor, "impostor"))
    observed = np.unique(np.concatenate([gen, imp]))
    above = np.nextafter(observed[-1], np.inf)
    thresholds = np.append(observed, above)
    # Accepted impostors: those >= t; rejected genuines: those < t.
    fmr = (imp.size - np.searchsorted(imp, thresholds, side="left")) / imp.size
    fnmr = np.searchsorted(gen, thresholds, side="left") / gen.size
    return DetCurve(thresholds, fmr.astype(np.float64), fnmr.astype(np.float64))


def error_rates(
    genuine: npt.ArrayLike, impostor: npt.ArrayLike, thresholds: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """FMR and FNMR at given thresholds (match when ``score >= threshold``)."""
    gen = np.sort(_scores(genuine, "genuine"))
    imp = np.sort(_scores(impostor, "impostor"))
    t = np.asarray(thresholds, dtype=np.float64)
    fmr = (imp.size - np.searchsorted(imp, t, side="left")) / imp.size
    fnmr = np.searchsorted(gen, t, side="left") / gen.size
    return fmr.astype(np.float64), fnmr.astype(np.float64)


@dataclass(frozen=True)
class Eer:
    """Equal error rate and the operating point nearest to it.

    ``threshold`` is the observed operating threshold whose larger error
    (max of FMR and FNMR) is smallest; ``fmr`` and ``fnmr`` are the rates
    there, so a deployment can see what the threshold really gives.
    """

    eer: float
    threshold: float
    fmr: float
    fnmr: float


def eer(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> Eer:
    """Equal error rate, by linear interpolation between operating points.

    The operating points (FMR, FNMR) of :func:`det_curve` joined by straight
    segments form the empirical ROC curve; tied scores make a diagonal
    segment, as in Fawcett's treatment of ties [1]_. The EER is where this
    curve crosses the line FMR = FNMR. If an operating point lies on that
    line, its rate is the EER exactly; otherwise the crossing lies on the
    segment between the last point with FNMR < FMR and the first with
    FNMR > FMR. Perfectly separated scores give 0.

    Interpolation (rather than, e.g., the mean of FMR and FNMR at the
    closest point) makes the figure independent of how finely scores are
    quantised, and exact for small hand-checked cases.

    References
    ----------
    .. [1] T. Fawcett, "An introduction to ROC analysis", Pattern Recognition
       Letters 27(8), 2006.
    .. [2] ISO/IEC 19795-1:2021, Biometric performance testing and reporting,
       Part 1: Principles and framework.
    """
    curve = det_curve(genuine, impostor)
    diff = curve.fnmr - curve.fmr  # non-decreasing along the thresholds
    k = int(np.searchsorted(diff, 0.0, side="left"))  # first point with FNMR >= FMR
    if diff[k] == 0.0 or k == 0:
        value = float(curve.fmr[k])
    else:
        d0, d1 = diff[k - 1], diff[k]
        lam = -d0 / (d1 - d0)
        value = float(curve.fmr[k - 1] + lam * (curve.fmr[k] - curve.fmr[k - 1]))
    candidates = [k - 1, k] if k > 0 else [k]
    worst = [max(curve.fmr[i], curve.fnmr[i]) for i in candidates]
    best = candidates[int(np.argmin(worst))]
    return Eer(
        value, float(curve.thresholds[best]), float(curve.fmr[best]), float(curve.fnmr[best])
    )


@dataclass(frozen=True)
class OperatingPoint:
    """Error rates at the threshold chosen for a target false-positive rate.

    For verification the negative rate is FMR and the positive one FNMR; for
    open-set identification they are FPIR and FNIR. When the target is not
    measurable (``measurable`` False) the rates are ``None`` and ``reason``
    says why.
    """

    target: float
    measurable: bool
    threshold: float | None
    false_positive_rate: float | None
    false_negative_rate: float | None
    negatives: int
    negatives_needed: int
    reason: str = ""


def negatives_needed(target: float) -> int:
    """Non-mated trials needed before a false-positive rate ``target`` is measurable."""
    return math.ceil(RULE_OF_THREE / target - 1e-9)  # 3 / 1e-3 is 3000.0000000000005


def threshold_at(negative: npt.ArrayLike, target: float) -> float:
    """The most permissive threshold whose false-positive rate is at most ``target``.

    Accepting ``score >= threshold``: the smallest observed negative score
    (or the value just above the largest) at which the fraction of negative
    scores accepted is ``<= target``.
    """
    if not 0.0 <= target < 1.0:
        raise MetricsError(f"target rate {target} is not in [0, 1)")
    neg = np.sort(_scores(negative, "impostor"))
    candidates = np.append(np.unique(neg), np.nextafter(neg[-1], np.inf))
    rates = (neg.size - np.searchsorted(neg, candidates, side="left")) / neg.size
    # rates do not increase along candidates; take the first one within target.
    k = int(np.argmax(rates <= target))
    return float(candidates[k])


def fnmr_at_fmr(genuine: npt.ArrayLike, impostor: npt.ArrayLike, target: float) -> OperatingPoint:
    """FNMR at the most permissive threshold whose FMR is at most ``target``.

    Not measurable (rates ``None``) when there are fewer than
    :func:`negatives_needed` impostor comparisons: by the rule of three a
    target below ``3 / n`` cannot be distinguished from zero false matches.
    """
    imp = _scores(impostor, "impostor")
    gen = _scores(genuine, "genuine")
    needed = negatives_needed(target)
    if imp.size < needed:
        return OperatingPoint(
            target,
            False,
            None,
            None,
            None,
            int(imp.size),
            needed,
            f"{imp.size} impostor comparisons; FMR {target:g} needs at least {needed}",
        )
    t = threshold_at(imp, target)
    fmr, fnmr = error_rates(gen, imp, [t])
    return OperatingPoint(target, True, t, float(fmr[0]), float(fnmr[0]), int(imp.size), needed)


# --- identification -------------------------------------------------------------------------


def _labels(values: npt.ArrayLike, size: int, name: str) -> npt.NDArray[np.str_]:
    array = np.asarray(values).astype(str).ravel()
    if array.size != size:
        raise MetricsError(f"{array.size} {name} labels for {size} score-matrix entries")
    return array


@dataclass(frozen=True)
class IdentityScores:
    """A probe x identity score matrix: each identity's best score over its samples."""

    scores: FloatArray  # (P, I)
    identities: npt.NDArray[np.str_]  # (I,) sorted


def identity_scores(score_matrix: npt.ArrayLike, gallery_labels: npt.ArrayLike) -> IdentityScores:
    """Collapse a probe x gallery-sample matrix to probe x identity by the maximum.

    With several enrolled samples per identity, the identity's score is the
    best of its samples (the usual multi-sample enrolment rule).
    """
    matrix = np.asarray(score_matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise MetricsError(f"score matrix must be 2-D with a gallery, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise MetricsError("score matrix contains NaN or infinity")
    labels = _labels(gallery_labels, matrix.shape[1], "gallery")
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    if matrix.shape[0] == 0:
        collapsed = np.zeros((0, starts.size))
    else:
        collapsed = np.maximum.reduceat(matrix[:, order], starts, axis=1)
    return IdentityScores(collapsed, sorted_labels[starts])


def ranks(
    score_matrix: npt.ArrayLike,
    probe_labels: npt.ArrayLike,
    gallery_labels: npt.ArrayLike,
    *,
    ties: str = "pessimistic",
) -> npt.NDArray[np.int64]:
    """Rank of each probe's true identity among the gallery identities (1 = best).

    Parameters
    ----------
    score_matrix : (P, G) array_like
        Scores of P probes against G gallery samples.
    probe_labels : (P,) array_like
        True identity of each probe; every one must be enrolled.
    gallery_labels : (G,) array_like
        Identity of each gallery sample.
    ties : {"pessimistic", "optimistic"}
        How an other identity scoring exactly as high as the true one counts:
        ahead of it (pessimistic, the default: a tie at the top is not a
        correct identification) or behind it.
    """
    if ties not in ("pessimistic", "optimistic"):
        raise MetricsError(f"unknown tie policy {ties!r}")
    ids = identity_scores(score_matrix, gallery_labels)
    probes = _labels(probe_labels, ids.scores.shape[0], "probe")
    column = np.searchsorted(ids.identities, probes)
    column = np.minimum(column, ids.identities.size - 1)
    missing = ids.identities[column] != probes
    if np.any(missing):
        raise MetricsError(
            f"{int(missing.sum())} probes belong to identities not in the gallery "
            f"(e.g. {probes[missing][0]!r}); closed-set ranks need every probe enrolled"
        )
    true = ids.scores[np.arange(probes.size), column][:, None]
    higher = (ids.scores > true).sum(axis=1)
    if ties == "optimistic":
        return np.asarray(1 + higher, dtype=np.int64)
    equal = (ids.scores == true).sum(axis=1) - 1  # other identities tied with the true one
    return np.asarray(1 + higher + equal, dtype=np.int64)


def cmc(rank_values: npt.ArrayLike, max_rank: int | None = None) -> FloatArray:
    """Cumulative match characteristic: ``cmc[k-1]`` = fraction of probes with rank <= k."""
    r = np.asarray(rank_values, dtype=np.int64).ravel()
    if r.size == 0:
        raise MetricsError("no probes")
    top = int(r.max()) if max_rank is None else max_rank
    counts = np.bincount(np.minimum(r, top + 1), minlength=top + 2)[1 : top + 1]
    return (np.cumsum(counts) / r.size).astype(np.float64)


def rank1(
    score_matrix: npt.ArrayLike,
    probe_labels: npt.ArrayLike,
    gallery_labels: npt.ArrayLike,
    *,
    ties: str = "pessimistic",
) -> float:
    """Closed-set identification rate at rank 1."""
    return float(np.mean(ranks(score_matrix, probe_labels, gallery_labels, ties=ties) == 1))


def split_identities(
    identities: Sequence[str], seed: int, enrolled_fraction: float = 0.5
) -> tuple[list[str], list[str]]:
    """Deterministic split of identities into enrolled and not enrolled.

    The identities are sorted, then permuted by a NumPy ``default_rng(seed)``,
    so the split depends only on the set of identities and the seed.
    """
    unique = sorted(set(identities))
    if len(unique) < 2:
        raise MetricsError("an open-set split needs at least two identities")
    order = np.random.default_rng(seed).permutation(len(unique))
    n_enrolled = min(max(1, round(len(unique) * enrolled_fraction)), len(unique) - 1)
    shuffled = [unique[i] for i in order]
    return sorted(shuffled[:n_enrolled]), sorted(shuffled[n_enrolled:])


@dataclass(frozen=True)
class OpenSetSearches:
    """Rank-1 outcome of every search of an open-set identification test."""

    mated_true_scores: FloatArray  # true identity's score, -inf where not at rank 1
    nonmated_top_scores: FloatArray  # best identity score of each non-mated search


def open_set_searches(
    score_matrix: npt.ArrayLike,
    probe_labels: npt.ArrayLike,
    gallery_labels: npt.ArrayLike,
) -> OpenSetSearches:
    """Split searches into mated (probe's identity enrolled) and non-mated ones.

    A mated search can only succeed when its true identity is the single
    best candidate (rank 1, ties count against it); then it succeeds at any
    threshold up to the true identity's score.
    """
    ids = identity_scores(score_matrix, gallery_labels)
    probes = _labels(probe_labels, ids.scores.shape[0], "probe")
    column = np.minimum(np.searchsorted(ids.identities, probes), ids.identities.size - 1)
    mated = ids.identities[column] == probes
    top = ids.scores.max(axis=1)
    mated_rows = np.flatnonzero(mated)
    true = ids.scores[mated_rows, column[mated_rows]]
    n_at_top = (ids.scores[mated_rows] == top[mated_rows, None]).sum(axis=1)
    at_rank1 = (true == top[mated_rows]) & (n_at_top == 1)
    return OpenSetSearches(
        np.where(at_rank1, true, -np.inf).astype(np.float64), top[~mated].astype(np.float64)
    )


def fnir_at_fpir(
    score_matrix: npt.ArrayLike,
    probe_labels: npt.ArrayLike,
    gallery_labels: npt.ArrayLike,
    target: float,
) -> OperatingPoint:
    """Open-set FNIR at the most permissive threshold whose FPIR is at most ``target``.

    - FPIR(t): fraction of non-mated searches whose best candidate scores ``>= t``.
    - FNIR(t): fraction of mated searches where the true identity is not the
      sole rank-1 candidate, or scores ``< t``.

    Not measurable when there are fewer than :func:`negatives_needed`
    non-mated searches.
    """
    searches = open_set_searches(score_matrix, probe_labels, gallery_labels)
    n_neg = int(searches.nonmated_top_scores.size)
    n_pos = int(searches.mated_true_scores.size)
    needed = negatives_needed(target)
    if n_pos == 0 or n_neg == 0:
        raise MetricsError(f"open-set test needs mated and non-mated searches ({n_pos}, {n_neg})")
    if n_neg < needed:
        return OperatingPoint(
            target,
            False,
            None,
            None,
            None,
            n_neg,
            needed,
            f"{n_neg} non-mated searches; FPIR {target:g} needs at least {needed}",
        )
    t = threshold_at(searches.nonmated_top_scores, target)
    fpir = float(np.mean(searches.nonmated_top_scores >= t))
    fnir = float(np.mean(searches.mated_true_scores < t))
    return OperatingPoint(target, True, t, fpir, fnir, n_neg, needed)
