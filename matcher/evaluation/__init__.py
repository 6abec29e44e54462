"""Biometric performance evaluation in the terms of ISO/IEC 19795-1.

Stages kept apart as in Idiap's bob: datasets (:mod:`.datasets`) -> extraction and
scoring to a score file (:mod:`.runner`, :mod:`.scores`) -> error rates (:mod:`.metrics`)
-> DET plot (:mod:`.det_plot`).
"""

from matcher.evaluation.datasets import (
    LAYOUTS,
    DatasetError,
    Sample,
    limit_identities,
    load_samples,
)
from matcher.evaluation.metrics import (
    DetCurve,
    Eer,
    MetricsError,
    OperatingPoint,
    cmc,
    det_curve,
    eer,
    error_rates,
    fnir_at_fpir,
    fnmr_at_fmr,
    rank1,
    ranks,
    split_identities,
    threshold_at,
)
from matcher.evaluation.runner import EvaluationError, EvaluationResult, Failure, evaluate
from matcher.evaluation.scores import (
    ScoreFileError,
    ScoreWriter,
    iter_scores,
    read_genuine_impostor,
)

__all__ = [
    "LAYOUTS",
    "DatasetError",
    "DetCurve",
    "Eer",
    "EvaluationError",
    "EvaluationResult",
    "Failure",
    "MetricsError",
    "OperatingPoint",
    "Sample",
    "ScoreFileError",
    "ScoreWriter",
    "cmc",
    "det_curve",
    "eer",
    "error_rates",
    "evaluate",
    "fnir_at_fpir",
    "fnmr_at_fmr",
    "iter_scores",
    "limit_identities",
    "load_samples",
    "rank1",
    "ranks",
    "read_genuine_impostor",
    "split_identities",
    "threshold_at",
]
