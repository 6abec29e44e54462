"""1:N palm identification: shortlist index, calibrated decisions, evaluation metrics.

Public contract (see the architecture page, section 3)::

    index = matcher.PalmIndex()
    index.add("subject-42", template)       # several templates per subject allowed
    index.remove("subject-42")
    index.search(probe, k=5)                # [Candidate(subject_id, score)], best first
    matcher.identify(index, probe)          # Decision: match / no_match / ambiguous
"""

from matcher.calibration import ImpostorDistribution, Threshold, shipped
from matcher.codes import shortlist_code, shortlist_codes
from matcher.decision import Decision, DecisionPolicy, Outcome, decide, identify
from matcher.errors import AlgorithmMismatchError, CalibrationError, MatcherError, SnapshotError
from matcher.index import Candidate, Geometry, IndexContents, PalmIndex

__all__ = [
    "AlgorithmMismatchError",
    "CalibrationError",
    "Candidate",
    "Decision",
    "DecisionPolicy",
    "Geometry",
    "ImpostorDistribution",
    "IndexContents",
    "MatcherError",
    "Outcome",
    "PalmIndex",
    "SnapshotError",
    "Threshold",
    "decide",
    "identify",
    "shipped",
    "shortlist_code",
    "shortlist_codes",
]
