"""Decisions: match, no match and ambiguous, at a threshold that tightens with the gallery."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

from matcher import (
    Candidate,
    DecisionPolicy,
    ImpostorDistribution,
    Outcome,
    PalmIndex,
    decide,
    identify,
)

if TYPE_CHECKING:
    from conftest import Palms

# A known impostor population: normal scores, mean 0.53, sd 0.012 (like the compare scale).
IMPOSTORS = ImpostorDistribution.from_scores(
    np.random.default_rng(1).normal(0.53, 0.012, 200_000), "test-algorithm"
)
POLICY = DecisionPolicy(target_fpir=1e-3, margin=0.02)


def test_best_score_above_threshold_with_a_clear_runner_up_is_a_match() -> None:
    d = decide([Candidate("alice", 0.72), Candidate("bob", 0.55)], 100, POLICY, IMPOSTORS)
    assert d.outcome is Outcome.MATCH and d.matched
    assert (d.subject_id, d.score, d.runner_up_subject, d.runner_up_score) == (
        "alice", 0.72, "bob", 0.55)
    assert d.gallery_size == 100
    assert d.target_fmr == pytest.approx(1e-5)
    assert 0.55 < d.threshold < 0.72
    assert d.algorithm == "test-algorithm"


def test_best_score_below_threshold_is_no_match_but_keeps_the_scores() -> None:
    d = decide([Candidate("alice", 0.56), Candidate("bob", 0.54)], 100, POLICY, IMPOSTORS)
    assert d.outcome is Outcome.NO_MATCH and not d.matched
    assert d.subject_id == "alice" and d.score == 0.56 and d.threshold > 0.56


def test_two_subjects_within_the_margin_are_ambiguous() -> None:
    d = decide([Candidate("alice", 0.70), Candidate("bob", 0.69)], 100, POLICY, IMPOSTORS)
    assert d.outcome is Outcome.AMBIGUOUS
    assert d.runner_up_subject == "bob"
    # Just outside the margin the best subject wins.
    clear = decide([Candidate("alice", 0.70), Candidate("bob", 0.675)], 100, POLICY, IMPOSTORS)
    assert clear.outcome is Outcome.MATCH


def test_empty_gallery_is_no_match() -> None:
    d = decide([], 0, POLICY, IMPOSTORS)
    assert d.outcome is Outcome.NO_MATCH and d.subject_id is None and d.runner_up_subject is None


def test_threshold_rises_with_the_gallery_size() -> None:
    thresholds = [decide([Candidate("a", 0.9)], n, POLICY, IMPOSTORS).threshold
                  for n in (10, 1_000, 100_000, 10_000_000)]
    assert thresholds == sorted(thresholds) and len(set(thresholds)) == 4


def test_decision_record_is_json_ready() -> None:
    record = decide([Candidate("alice", 0.72)], 5, POLICY, IMPOSTORS).as_record()
    assert record["outcome"] == "match" and record["runner_up_subject"] is None
    assert set(record) >= {"score", "threshold", "runner_up_score", "gallery_size", "target_fmr",
                           "algorithm"}


@pytest.mark.parametrize("kwargs", [{"target_fpir": 0.0}, {"target_fpir": 1.0}, {"margin": -1},
                                    {"candidates": 1}])
def test_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DecisionPolicy(**kwargs)  # type: ignore[arg-type]


def test_identify_simulated_palms(palms: Palms) -> None:
    index = PalmIndex()
    subjects = palms.subjects()
    stranger = subjects[-1]
    for s in subjects[:-1]:
        for t in palms.enrolment[s]:
            index.add(s, t)
    outcomes = {s: identify(index, palms.probes[s]) for s in subjects[:-1]}
    matched = [s for s, d in outcomes.items() if d.outcome is Outcome.MATCH]
    assert all(outcomes[s].subject_id == s for s in matched)
    assert len(matched) >= len(outcomes) - 2
    d = identify(index, palms.probes[stranger])
    assert d.outcome is Outcome.NO_MATCH
    assert d.gallery_size == len(index)
