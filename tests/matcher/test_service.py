"""Enrolment, duplicate cases, identification, deletion and the template store, on a database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import biometric
from matcher.crypto import Keyring, new_key
from matcher.decision import Outcome
from matcher.models import CaseStatus, Change, StoredTemplate
from matcher.repository import IndexFollower, count_by_key, rotate_batch
from matcher.service import EnrolmentOutcome, EnrolmentPolicy, MatcherService
from palmvein.core.audit import AuditEntry, verify_chain
from palmvein.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from palmvein.core.security.roles import Role

if TYPE_CHECKING:
    from conftest import Palms

K1, K2 = new_key(), new_key()
KEYS = Keyring.parse(f"k1:{K1}", b"installation secret")
# The simulated palms give two clean captures per session; the test policy asks for two.
POLICY = EnrolmentPolicy(min_samples=2, max_samples=5)


def service(db: Session, follower: IndexFollower) -> MatcherService:
    return MatcherService(db, follower, actor="clerk", policy=POLICY)


@pytest.fixture
def follower(tmp_path: Path) -> IndexFollower:
    return IndexFollower(KEYS, snapshot_path=tmp_path / "index.snap")


def enrol(db: Session, follower: IndexFollower, name: str, templates: list[biometric.Template]
          ) -> str:
    svc = service(db, follower)
    person = svc.create_person(name)
    result = svc.enrol(person.id, {"right": templates})
    assert result.outcome is EnrolmentOutcome.ENROLLED
    db.commit()
    follower.catch_up(db)
    return person.id


def test_enrolled_person_is_identified_and_templates_are_encrypted(
        db: Session, follower: IndexFollower, palms: Palms) -> None:
    ids = {s: enrol(db, follower, s, palms.enrolment[s]) for s in palms.subjects()[:4]}
    rows = db.scalars(select(StoredTemplate)).all()
    assert len(rows) == sum(len(palms.enrolment[s]) for s in ids)
    assert all(r.key_id == "k1" for r in rows)
    clear = palms.enrolment[palms.subjects()[0]][0].to_bytes()
    assert all(clear[8:40] not in r.ciphertext for r in rows)
    subject = palms.subjects()[0]
    decision = service(db, follower).identify(palms.enrolment[subject][0])
    assert decision.outcome is Outcome.MATCH and decision.subject_id == ids[subject]
    assert db.scalars(select(AuditEntry).where(AuditEntry.action == "matcher.identify")).first()
    assert verify_chain(db).ok


def test_duplicate_enrolled_under_a_new_name_is_caught(
        db: Session, follower: IndexFollower, palms: Palms) -> None:
    subject = palms.subjects()[1]
    original = enrol(db, follower, "Original", palms.enrolment[subject])
    svc = service(db, follower)
    impostor = svc.create_person("Same palm, new name")
    # New captures of the same palm (the session-1 probe and an enrolment sample).
    result = svc.enrol(impostor.id, {"right": [palms.probes[subject],
                                               palms.enrolment[subject][1]]})
    assert result.outcome is EnrolmentOutcome.DUPLICATE
    assert [h.matched_person_id for h in result.duplicates] == [original]
    assert result.duplicates[0].score >= result.duplicates[0].threshold
    db.commit()
    assert db.scalars(select(StoredTemplate).where(
        StoredTemplate.person_id == impostor.id)).all() == []
    [case] = svc.open_cases()
    assert case.matched_person_id == original and case.person_id == impostor.id
    # Only an administrator resolves it, with a reason; it is audited.
    with pytest.raises(PermissionDenied):
        svc.resolve_case(case.id, CaseStatus.CONFIRMED_DUPLICATE, "same person",
                         frozenset({Role.HR_CLERK}))
    resolved = svc.resolve_case(case.id, CaseStatus.CONFIRMED_DUPLICATE, "same person",
                                frozenset({Role.ADMIN}))
    assert resolved.status == "confirmed_duplicate" and resolved.resolved_by == "clerk"
    with pytest.raises(Conflict):
        svc.resolve_case(case.id, CaseStatus.DISMISSED, "again", frozenset({Role.ADMIN}))
    actions = db.scalars(select(AuditEntry.action)).all()
    assert "matcher.duplicate_case.opened" in actions
    assert "matcher.duplicate_case.resolved" in actions


def test_samples_that_disagree_or_fail_quality_are_refused(
        db: Session, follower: IndexFollower, palms: Palms) -> None:
    a, b = palms.subjects()[:2]
    svc = service(db, follower)
    person = svc.create_person("Mixed up")
    with pytest.raises(ValidationFailed) as err:
        svc.enrol(person.id, {"right": [palms.enrolment[a][0], palms.enrolment[b][0]]})
    assert "do not agree" in err.value.problems[0].message
    black = np.zeros((480, 640), np.uint8)
    with pytest.raises(ValidationFailed) as err:
        svc.enrol(person.id, {"right": [palms.enrolment[a][0], black]})
    assert err.value.problems[0].field == "samples.right[1]"
    with pytest.raises(ValidationFailed):
        svc.enrol(person.id, {"right": [palms.enrolment[a][0]]})  # too few
    with pytest.raises(ValidationFailed):
        svc.enrol(person.id, {"paw": palms.enrolment[a]})


def test_deleted_person_is_never_identified_again(
        db: Session, follower: IndexFollower, palms: Palms) -> None:
    subject = palms.subjects()[2]
    person = enrol(db, follower, "Leaver", palms.enrolment[subject])
    enrol(db, follower, "Stayer", palms.enrolment[palms.subjects()[3]])
    svc = service(db, follower)
    assert svc.delete_person(person) == len(palms.enrolment[subject])
    db.commit()
    for t in palms.enrolment[subject]:
        decision = svc.identify(t)
        assert decision.subject_id != person and decision.outcome is Outcome.NO_MATCH
    assert db.scalars(select(StoredTemplate).where(StoredTemplate.person_id == person)).all() == []
    with pytest.raises(NotFound):
        svc.delete_person(person)
    # A worker started afresh from the database does not resurrect it either.
    fresh = IndexFollower(KEYS)
    fresh.start(db)
    assert person not in fresh.index and len(fresh.index) == len(palms.enrolment[
        palms.subjects()[3]])


def test_changes_are_numbered_in_order_and_workers_converge(
        db: Session, follower: IndexFollower, palms: Palms, tmp_path: Path) -> None:
    other_worker = IndexFollower(KEYS)
    other_worker.start(db)
    first = enrol(db, follower, "One", palms.enrolment[palms.subjects()[0]])
    seqs = db.scalars(select(Change.seq).order_by(Change.seq)).all()
    assert seqs == sorted(seqs) and len(seqs) == len(palms.enrolment[palms.subjects()[0]])
    report = other_worker.catch_up(db)
    assert report.applied == len(seqs) and report.sequence == seqs[-1]
    assert first in other_worker.index
    assert other_worker.catch_up(db).applied == 0  # idempotent


def test_worker_restarts_from_its_snapshot_and_refuses_a_tampered_one(
        db: Session, follower: IndexFollower, palms: Palms) -> None:
    enrol(db, follower, "One", palms.enrolment[palms.subjects()[0]])
    follower.snapshot()
    later = enrol(db, follower, "Two", palms.enrolment[palms.subjects()[1]])
    restarted = IndexFollower(KEYS, snapshot_path=follower.snapshot_path)
    restarted.start(db)
    assert restarted.snapshot_refused is None
    assert later in restarted.index and len(restarted.index) == len(follower.index)
    assert follower.snapshot_path is not None
    data = bytearray(follower.snapshot_path.read_bytes())
    data[-40] ^= 0xFF
    follower.snapshot_path.write_bytes(bytes(data))
    rebuilt = IndexFollower(KEYS, snapshot_path=follower.snapshot_path)
    rebuilt.start(db)
    assert rebuilt.snapshot_refused is not None and "integrity" in rebuilt.snapshot_refused
    assert len(rebuilt.index) == len(follower.index)  # rebuilt from the database instead


def test_key_rotation_re_encrypts_every_row_in_batches(
        db: Session, follower: IndexFollower, palms: Palms) -> None:
    for s in palms.subjects()[:3]:
        enrol(db, follower, s, palms.enrolment[s])
    total = db.query(StoredTemplate).count()
    rotated = Keyring.parse(f"k2:{K2},k1:{K1}", b"installation secret")
    batches = []
    while n := rotate_batch(db, rotated, batch=2):
        db.commit()
        batches.append(n)
    assert sum(batches) == total and max(batches) == 2
    assert count_by_key(db) == {"k2": total}
    # Everything still decrypts with the new key alone and still identifies.
    only_new = Keyring.parse(f"k2:{K2}", b"installation secret")
    worker = IndexFollower(only_new)
    worker.start(db)
    assert len(worker.index) == total



def test_demo_enrols_simulated_staff_and_catches_the_planted_duplicate(
        db: Session, follower: IndexFollower) -> None:
    from matcher.demo import DEMO_STAFF, run_demo

    report = run_demo(MatcherService(db, follower, actor="demo"), follower)
    db.commit()
    assert len(report.enrolled) >= len(DEMO_STAFF) - 1
    assert report.duplicate_caught and report.duplicate_case_id is not None
    assert report.identified is not None


def test_withdrawn_enrolment_keeps_the_person_and_allows_enrolling_again(
        db: Session, follower: IndexFollower, palms: Palms) -> None:
    first, second = palms.subjects()[4], palms.subjects()[5]
    person = enrol(db, follower, "Re-enrolled", palms.enrolment[first])
    svc = service(db, follower)
    assert svc.withdraw_enrolment(person) == len(palms.enrolment[first])
    db.commit()
    assert svc.identify(palms.enrolment[first][0]).subject_id != person
    with pytest.raises(Conflict):
        svc.withdraw_enrolment(person)  # nothing left to withdraw
    result = svc.enrol(person, {"right": palms.enrolment[second]})
    assert result.outcome is EnrolmentOutcome.ENROLLED
    db.commit()
    assert svc.identify(palms.enrolment[second][0]).subject_id == person
