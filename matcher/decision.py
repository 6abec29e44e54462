"""1:N decisions: match, no match or ambiguous, with a threshold for the current gallery size.

An identification compares the probe with every enrolled template, so the chance that *some*
impostor passes (the false-positive identification rate, FPIR) grows with the gallery:
FPIR ~= N x FMR for a per-comparison false-match rate FMR that is small. For a target FPIR the
threshold is therefore set at FMR = FPIR / N, N being the number of enrolled templates, on the
impostor score distribution of the templates' algorithm (:mod:`matcher.calibration`).

Two subjects scoring within ``margin`` of each other above the threshold make the decision
ambiguous: a payment or salary release must not pick one of two near-equal candidates (and two
enrolled subjects matching one palm is itself a sign of a duplicate enrolment).

References
----------
.. [1] ISO/IEC 19795-1:2021, Biometric performance testing and reporting, part 1 (FMR, FPIR).
.. [2] P. Grother, M. Ngan, K. Hanaoka, "Face Recognition Vendor Test part 2: identification",
   NIST IR 8271, 2019 (threshold-based 1:N decisions, FPIR versus gallery size).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import biometric
from matcher.calibration import Thresholds, shipped
from matcher.index import Candidate, PalmIndex


class Outcome(StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class DecisionPolicy:
    """How identification decides.

    Attributes
    ----------
    target_fpir : float
        Accepted probability that a probe of someone not enrolled (or enrolled as someone else)
        is matched to an enrolled subject, per search.
    margin : float
        A runner-up subject within this score distance of the best makes the search ambiguous.
    candidates : int
        Subjects retrieved per search (at least 2, to see a runner-up).
    """

    target_fpir: float = 1e-3
    margin: float = 0.02
    candidates: int = 5

    def __post_init__(self) -> None:
        if not 0.0 < self.target_fpir < 1.0:
            raise ValueError(f"target_fpir must be in (0, 1), got {self.target_fpir}")
        if self.margin < 0.0:
            raise ValueError(f"margin must be non-negative, got {self.margin}")
        if self.candidates < 2:
            raise ValueError("candidates must be at least 2 to see a runner-up")


@dataclass(frozen=True)
class Decision:
    """The outcome of one identification and everything needed to audit it.

    ``subject_id`` and ``score`` are the best candidate's (``subject_id`` is None when the gallery
    is empty); a ``no_match`` still records them so an auditor sees how close it was.
    ``target_fmr`` is the per-comparison rate the threshold was set for, ``threshold_extrapolated``
    whether that rate lies beyond the measured impostor scores.
    """

    outcome: Outcome
    subject_id: str | None
    score: float
    threshold: float
    runner_up_subject: str | None
    runner_up_score: float | None
    gallery_size: int
    target_fpir: float
    target_fmr: float
    margin: float
    threshold_extrapolated: bool
    algorithm: str

    @property
    def matched(self) -> bool:
        return self.outcome is Outcome.MATCH

    def as_record(self) -> dict[str, Any]:
        """JSON-ready dict for the audit log."""
        record = asdict(self)
        record["outcome"] = self.outcome.value
        return record


def decide(
    candidates: list[Candidate],
    gallery_size: int,
    policy: DecisionPolicy,
    impostors: Thresholds,
) -> Decision:
    """Turn ranked candidates into a decision (pure: no search).

    ``gallery_size`` is the number of enrolled templates compared (the N of FPIR ~= N x FMR).
    """
    n = max(gallery_size, 1)
    fmr = policy.target_fpir / n
    threshold = impostors.threshold_for(fmr)
    best = candidates[0] if candidates else None
    runner = candidates[1] if len(candidates) > 1 else None
    if best is None or best.score < threshold.score:
        outcome = Outcome.NO_MATCH
    elif runner is not None and best.score - runner.score < policy.margin:
        outcome = Outcome.AMBIGUOUS
    else:
        outcome = Outcome.MATCH
    return Decision(
        outcome=outcome,
        subject_id=best.subject_id if best else None,
        score=best.score if best else 0.0,
        threshold=threshold.score,
        runner_up_subject=runner.subject_id if runner else None,
        runner_up_score=runner.score if runner else None,
        gallery_size=gallery_size,
        target_fpir=policy.target_fpir,
        target_fmr=fmr,
        margin=policy.margin,
        threshold_extrapolated=threshold.extrapolated,
        algorithm=impostors.algorithm,
    )


def identify(
    index: PalmIndex,
    probe: biometric.Template,
    policy: DecisionPolicy | None = None,
    impostors: Thresholds | None = None,
) -> Decision:
    """Search ``index`` for ``probe`` and decide match / no match / ambiguous.

    Parameters
    ----------
    index : PalmIndex
    probe : biometric.Template
    policy : DecisionPolicy, optional
        Defaults to ``DecisionPolicy()`` (FPIR 0.1 %, margin 0.02).
    impostors : Thresholds, optional
        Defaults to the distribution shipped for the probe's algorithm
        (:func:`matcher.calibration.shipped`).
    """
    policy = policy or DecisionPolicy()
    impostors = impostors or shipped(probe.algorithm)
    gallery_size = len(index)
    candidates = index.search(probe, k=policy.candidates)
    return decide(candidates, gallery_size, policy, impostors)
