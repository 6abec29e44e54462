"""Site calibration: the site's own palms can only make a decision threshold stricter.

The shipped impostor distribution comes from simulated palms; real palms' impostor scores run
higher (PolyU NIR: its FMR 1e-4 threshold let 0.45 % of impostor pairs through). Here a "site"
whose palms share much of their code (each a copy of one base code with 20 % of its bits
flipped) stands in for a population more alike than the simulator's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import biometric
from biometric.compare import comparator
from matcher.calibration import (
    MIN_SITE_OWNERS,
    Calibration,
    ImpostorDistribution,
    all_pairs_scores,
    shipped,
)
from matcher.crypto import Keyring, new_key
from matcher.errors import CalibrationError
from matcher.models import SiteCalibration
from matcher.repository import IndexFollower, store_template
from matcher.service import MatcherService
from palmvein.core.audit import AuditEntry
from palmvein.core.errors import Conflict

if TYPE_CHECKING:
    from conftest import Palms

    from tests.matcher.conftest import Perturb

KEYS = Keyring.parse(f"k1:{new_key()}", b"installation secret")


def _alike(palms: Palms, perturb: Perturb, n: int, seed: int = 3) -> list[biometric.Template]:
    rng = np.random.default_rng(seed)
    base = palms.enrolment[palms.subjects()[0]][0]
    return [perturb(base, rng, 0.2) for _ in range(n)]


def _distribution(scores: np.ndarray) -> ImpostorDistribution:
    ref = shipped()
    return ImpostorDistribution.from_scores(scores, ref.algorithm, {"source": "test"},
                                            ref.comparator)


def test_the_stricter_threshold_wins_at_every_rate() -> None:
    ref = shipped()
    rng = np.random.default_rng(0)
    higher = _distribution(rng.normal(0.60, 0.02, 50_000))
    lower = _distribution(rng.normal(0.45, 0.01, 50_000))
    for fmr in (1e-2, 1e-3, 1e-4, 1e-6):
        assert Calibration(ref, higher).threshold_for(fmr) == higher.threshold_for(fmr)
        assert Calibration(ref, higher).threshold_for(fmr).score > ref.threshold_for(fmr).score
        assert Calibration(ref, lower).threshold_for(fmr) == ref.threshold_for(fmr)
        assert Calibration(ref).threshold_for(fmr) == ref.threshold_for(fmr)


def test_a_site_distribution_of_another_comparator_is_refused() -> None:
    ref = shipped()
    other = ImpostorDistribution.from_scores(np.linspace(0.4, 0.6, 2000), ref.algorithm, {},
                                             "another-comparator")
    with pytest.raises(CalibrationError, match="does not fit"):
        Calibration(ref, other)


def test_site_scores_are_every_pair_of_different_persons(palms: Palms) -> None:
    templates = [palms.enrolment[s][0] for s in palms.subjects()[:5]]
    templates.append(palms.enrolment[palms.subjects()[0]][1])  # person 0's other sample
    owners = [*palms.subjects()[:5], palms.subjects()[0]]
    scores = all_pairs_scores(templates, owners)
    expected = [biometric.compare(templates[i], templates[j])
                for i in range(6) for j in range(i + 1, 6) if owners[i] != owners[j]]
    assert len(scores) == 15 - 1
    np.testing.assert_allclose(scores, expected)
    with pytest.raises(CalibrationError):
        all_pairs_scores(templates, owners[:-1])


def _site(db: Session, templates: list[biometric.Template]) -> MatcherService:
    svc = MatcherService(db, IndexFollower(KEYS), actor="admin")
    for i, template in enumerate(templates):
        person = svc.create_person(f"worker {i}")
        store_template(db, KEYS, person.id, "right", template)
        if i == 0:  # one person enrolled with both hands: not an impostor pair
            store_template(db, KEYS, person.id, "left", templates[-1])
    db.commit()
    return svc


def test_too_few_persons_for_a_site_calibration_is_refused(
        db: Session, palms: Palms, perturb: Perturb) -> None:
    svc = _site(db, _alike(palms, perturb, MIN_SITE_OWNERS - 1))
    with pytest.raises(Conflict, match=f"at least {MIN_SITE_OWNERS}"):
        svc.calibrate()
    assert db.scalars(select(SiteCalibration)).all() == []


def test_a_site_of_alike_palms_tightens_every_decision(
        db: Session, palms: Palms, perturb: Perturb) -> None:
    n = MIN_SITE_OWNERS + 2
    svc = _site(db, _alike(palms, perturb, n))
    before = svc.impostors.threshold_for(1e-4).score
    assert before == shipped().threshold_for(1e-4).score
    seen: list[tuple[int, int]] = []
    row = svc.calibrate(progress=lambda done, total: seen.append((done, total)))
    db.commit()
    # n + 1 hands of n persons; the pair of person 0's two hands is left out.
    assert (row.owners, row.templates) == (n, n + 1)
    assert row.pairs == (n + 1) * n // 2 - 1
    assert row.comparator == comparator().id and seen[-1] == (n, n)

    fresh = MatcherService(db, IndexFollower(KEYS), actor="pay point")
    site = ImpostorDistribution.from_json(row.distribution)
    for fmr in (1e-3, 1e-4, 1e-6):
        used = fresh.impostors.threshold_for(fmr)
        assert used == site.threshold_for(fmr)
        assert used.score > shipped().threshold_for(fmr).score
    entry = db.scalars(select(AuditEntry).where(
        AuditEntry.action == "matcher.calibration.created")).one()
    assert entry.entity_id == str(row.id)

    # A probe like the site's palms scores above the shipped threshold but under the site's:
    # identification says no match instead of naming someone.
    fresh.follower.start(db)
    probe = _alike(palms, perturb, 1, seed=99)[0]
    decision = fresh.identify(probe)
    assert decision.score > shipped().threshold_for(decision.target_fmr).score
    assert not decision.matched and decision.threshold > decision.score
