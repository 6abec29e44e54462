"""Enrolment with duplicate search, identification, deletion and duplicate-case resolution.

The service works inside the caller's session and never commits. The in-memory index is changed
only through the change log (:class:`matcher.repository.IndexFollower`): after the caller commits
an enrolment or deletion it calls ``follower.catch_up`` (every worker does the same on its next
identification), so an enrolment that rolls back never reaches any index.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

import biometric
from biometric.compare import comparator
from matcher.calibration import (
    MIN_SITE_OWNERS,
    Calibration,
    ImpostorDistribution,
    Thresholds,
    all_pairs_scores,
    shipped,
)
from matcher.decision import Decision, DecisionPolicy, decide
from matcher.models import CaseStatus, DuplicateCase, Hand, Person, SiteCalibration
from matcher.repository import (
    IndexFollower,
    calibration,
    delete_templates,
    hands_sample,
    latest_calibration_id,
    store_template,
)
from palmvein.core import audit
from palmvein.core.db import utcnow
from palmvein.core.errors import (
    Conflict,
    FieldProblem,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from palmvein.core.security.roles import Role

Sample = npt.NDArray[np.uint8] | biometric.Template
#: Roles allowed to resolve a duplicate case.
CASE_RESOLVERS = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class EnrolmentPolicy:
    """Rules of enrolment.

    Attributes
    ----------
    min_samples, max_samples : int
        Captures per enrolled hand.
    agreement_fmr : float
        Every pair of one hand's samples must score at or above the threshold of this
        false-match rate: samples that do not agree are a wrong hand, a swapped person or a bad
        capture.
    duplicate : DecisionPolicy
        FPIR of the 1:N duplicate search, spread over all the enrolment's templates.
    """

    min_samples: int = 3
    max_samples: int = 5
    agreement_fmr: float = 1e-4
    duplicate: DecisionPolicy = field(default_factory=lambda: DecisionPolicy(target_fpir=1e-3))


class EnrolmentOutcome(StrEnum):
    ENROLLED = "enrolled"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class DuplicateHit:
    case_id: int
    matched_person_id: str
    hand: str
    score: float
    threshold: float


@dataclass(frozen=True)
class EnrolmentResult:
    person_id: str
    outcome: EnrolmentOutcome
    templates_stored: int = 0
    duplicates: tuple[DuplicateHit, ...] = ()


# Site calibration rows are never changed: each is read and parsed once per process (its
# 5000 tail scores), not on every identification. Keyed by database too (a process, a test run
# say, may use two whose ids coincide); only the newest of each matters.
_SITE_DISTRIBUTIONS: dict[tuple[str, int], ImpostorDistribution] = {}


def _site_distribution(session: Session, calibration_id: int) -> ImpostorDistribution:
    key = (session.get_bind().engine.url.render_as_string(hide_password=True), calibration_id)
    dist = _SITE_DISTRIBUTIONS.get(key)
    if dist is None:
        dist = ImpostorDistribution.from_json(calibration(session, calibration_id).distribution)
        if len(_SITE_DISTRIBUTIONS) >= 8:
            _SITE_DISTRIBUTIONS.clear()
        _SITE_DISTRIBUTIONS[key] = dist
    return dist


def _score_text(value: float) -> str:
    return f"{value:.6f}"  # the audit log refuses floats: exact text instead


class MatcherService:
    """Biometric enrolment and identification for one unit of work.

    Parameters
    ----------
    session : Session
        The caller's session (never committed here).
    follower : IndexFollower
        The worker's index; caught up from the database before every search.
    actor : str
        Who acts (staff username or device id), for the audit log.
    """

    def __init__(
        self,
        session: Session,
        follower: IndexFollower,
        *,
        actor: str,
        policy: EnrolmentPolicy | None = None,
        identify_policy: DecisionPolicy | None = None,
        impostors: Thresholds | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self.follower = follower
        self.actor = actor
        self.policy = policy or EnrolmentPolicy()
        self.identify_policy = identify_policy or DecisionPolicy()
        self._impostors = impostors
        self.clock = clock

    @property
    def impostors(self) -> Thresholds:
        """The calibration decisions use: the shipped distribution, tightened by the newest site
        calibration of the same algorithm and comparator (:meth:`calibrate`)."""
        if self._impostors is None:
            algorithm = self.follower.algorithm
            site_id = latest_calibration_id(self.session, algorithm, comparator().id)
            site = None if site_id is None else _site_distribution(self.session, site_id)
            self._impostors = Calibration(shipped(algorithm), site)
        return self._impostors

    # -- calibration ---------------------------------------------------------------------------

    def calibrate(
        self,
        *,
        max_hands: int = 2000,
        seed: int = 0,
        progress: Callable[[int, int], None] | None = None,
    ) -> SiteCalibration:
        """Measure impostor scores between the enrolled palms and store them as the site
        calibration (audited; the caller commits).

        One template per enrolled hand, at most ``max_hands`` of them drawn with ``seed``; every
        pair of different persons is an impostor pair. ``progress(done, total)`` is called as
        templates are compared.
        """
        algorithm = self.follower.algorithm
        sample = hands_sample(self.session, self.follower.keyring, algorithm, max_hands, seed)
        owners = [person for person, _ in sample]
        persons = len(set(owners))
        if persons < MIN_SITE_OWNERS:
            raise Conflict(
                f"a site calibration needs the palms of at least {MIN_SITE_OWNERS} enrolled "
                f"persons; {persons} are enrolled with {algorithm}"
            )
        total = len(sample)
        scores = all_pairs_scores(
            [t for _, t in sample], owners,
            None if progress is None else (lambda done: progress(done, total - 1)),
        )
        current = comparator().id
        dist = ImpostorDistribution.from_scores(
            scores, algorithm,
            {"source": "site: enrolled palms, one template per hand", "persons": persons,
             "hands": total, "seed": seed, "max_hands": max_hands,
             "pairs": "every pair of hands of different persons"},
            current,
        )
        row = SiteCalibration(algorithm=algorithm, comparator=current, owners=persons,
                              templates=total, pairs=int(scores.size),
                              distribution=dist.to_json(), created_by=self.actor,
                              created_at=self.clock())
        self.session.add(row)
        self.session.flush()
        self._impostors = None
        reference = shipped(algorithm)
        audit.record(
            self.session, actor=self.actor, action="matcher.calibration.created",
            entity_type="calibration", entity_id=str(row.id),
            data={"algorithm": algorithm, "comparator": current, "persons": persons,
                  "hands": total, "pairs": int(scores.size),
                  "threshold_fmr_1e-4": _score_text(dist.threshold_for(1e-4).score),
                  "shipped_threshold_fmr_1e-4": _score_text(reference.threshold_for(1e-4).score)},
            at=self.clock(),
        )
        return row

    # -- persons -------------------------------------------------------------------------------

    def create_person(self, display_name: str, external_ref: str | None = None) -> Person:
        name = display_name.strip()
        if not name:
            raise ValidationFailed("a person needs a name",
                                   [FieldProblem("display_name", "must not be empty")])
        if external_ref is not None and self.session.scalar(
            select(Person.id).where(Person.external_ref == external_ref)
        ):
            raise Conflict(f"a person with reference {external_ref!r} already exists")
        person = Person(id=str(uuid.uuid4()), display_name=name, external_ref=external_ref,
                        created_at=self.clock(), created_by=self.actor)
        self.session.add(person)
        self.session.flush()
        audit.record(self.session, actor=self.actor, action="matcher.person.created",
                     entity_type="person", entity_id=person.id,
                     data={"external_ref": external_ref}, at=self.clock())
        return person

    def get_person(self, person_id: str) -> Person:
        person = self.session.get(Person, person_id)
        if person is None or person.deleted_at is not None:
            raise NotFound(f"no person {person_id}")
        return person

    def delete_person(self, person_id: str) -> int:
        """Delete a person's templates (and so their index entries); return how many."""
        person = self.get_person(person_id)
        removed = delete_templates(self.session, person_id)
        person.deleted_at = self.clock()
        audit.record(self.session, actor=self.actor, action="matcher.person.deleted",
                     entity_type="person", entity_id=person_id,
                     data={"templates_deleted": removed}, at=self.clock())
        self.session.flush()
        return removed

    def withdraw_enrolment(self, person_id: str) -> int:
        """Remove a person's templates but keep the person, so they can be enrolled again (a
        re-enrolment keeps the person id their wallet and employee record point to)."""
        person = self.get_person(person_id)
        if person.enrolled_at is None:
            raise Conflict(f"person {person_id} is not enrolled")
        removed = delete_templates(self.session, person_id)
        person.enrolled_at = None
        audit.record(self.session, actor=self.actor, action="matcher.person.enrolment_withdrawn",
                     entity_type="person", entity_id=person_id,
                     data={"templates_deleted": removed}, at=self.clock())
        self.session.flush()
        return removed

    # -- enrolment -----------------------------------------------------------------------------

    def enrol(self, person_id: str, samples: Mapping[str, Sequence[Sample]]) -> EnrolmentResult:
        """Enrol ``samples`` (hand -> 3-5 images or templates) for ``person_id``.

        Each sample passes the quality gate (:func:`biometric.extract`); one hand's samples must
        agree with each other; then every template is searched 1:N. A hit on another person above
        the duplicate threshold stores nothing and opens a duplicate case per matched person.

        Raises
        ------
        ValidationFailed
            Wrong number of samples, a sample failing the quality gate, or samples that disagree
            (every problem is listed).
        NotFound
            No such person.
        Conflict
            The person already has templates.
        """
        person = self.get_person(person_id)
        if person.enrolled_at is not None:
            raise Conflict(f"person {person_id} is already enrolled; delete and re-enrol")
        templates = self._templates(samples)
        self._check_agreement(templates)
        hits = self._duplicate_search(person_id, templates)
        if hits:
            return EnrolmentResult(person_id, EnrolmentOutcome.DUPLICATE, 0, tuple(hits))
        stored = 0
        for hand, ts in templates.items():
            for t in ts:
                store_template(self.session, self.follower.keyring, person_id, hand, t)
                stored += 1
        person.enrolled_at = self.clock()
        audit.record(self.session, actor=self.actor, action="matcher.person.enrolled",
                     entity_type="person", entity_id=person_id,
                     data={"templates": stored, "hands": sorted(templates)}, at=self.clock())
        self.session.flush()
        return EnrolmentResult(person_id, EnrolmentOutcome.ENROLLED, stored)

    def _templates(self, samples: Mapping[str, Sequence[Sample]]) -> dict[str, list[
            biometric.Template]]:
        problems: list[FieldProblem] = []
        out: dict[str, list[biometric.Template]] = {}
        if not samples:
            raise ValidationFailed("no samples given", [FieldProblem("samples", "empty")])
        for hand, items in samples.items():
            if hand not in {h.value for h in Hand}:
                problems.append(FieldProblem(f"samples.{hand}", "hand must be left or right"))
                continue
            if not self.policy.min_samples <= len(items) <= self.policy.max_samples:
                problems.append(FieldProblem(
                    f"samples.{hand}", f"{len(items)} samples; {self.policy.min_samples}-"
                    f"{self.policy.max_samples} needed"))
                continue
            for i, item in enumerate(items):
                try:
                    t = item if isinstance(item, biometric.Template) else biometric.extract(item)
                except biometric.BiometricError as exc:
                    problems.append(FieldProblem(f"samples.{hand}[{i}]", str(exc)))
                    continue
                if t.algorithm != self.follower.algorithm:
                    problems.append(FieldProblem(f"samples.{hand}[{i}]",
                                                 f"template of algorithm {t.algorithm!r}"))
                    continue
                out.setdefault(hand, []).append(t)
        if problems:
            raise ValidationFailed("some samples cannot be enrolled; recapture them", problems)
        return out

    def _check_agreement(self, templates: Mapping[str, Sequence[biometric.Template]]) -> None:
        threshold = self.impostors.threshold_for(self.policy.agreement_fmr).score
        problems = []
        for hand, ts in templates.items():
            for i, j in itertools.combinations(range(len(ts)), 2):
                score = biometric.compare(ts[i], ts[j])
                if score < threshold:
                    problems.append(FieldProblem(
                        f"samples.{hand}", f"samples {i} and {j} do not agree (score "
                        f"{score:.3f} < {threshold:.3f}): same hand of the same person?"))
        if problems:
            raise ValidationFailed("the samples do not agree with each other; recapture", problems)

    def _duplicate_search(
        self, person_id: str, templates: Mapping[str, Sequence[biometric.Template]]
    ) -> list[DuplicateHit]:
        self.follower.catch_up(self.session)
        index = self.follower.index
        n_probes = sum(len(ts) for ts in templates.values())
        # The FPIR budget is shared by every template searched.
        policy = DecisionPolicy(
            target_fpir=self.policy.duplicate.target_fpir / n_probes,
            margin=self.policy.duplicate.margin, candidates=self.policy.duplicate.candidates)
        best: dict[str, tuple[float, float, str]] = {}
        for hand, ts in templates.items():
            for t in ts:
                candidates = [c for c in index.search(t, k=policy.candidates)
                              if c.subject_id != person_id]
                decision = decide(candidates, len(index), policy, self.impostors)
                for c in candidates:
                    if c.score >= decision.threshold and c.score > best.get(
                            c.subject_id, (-1.0, 0.0, ""))[0]:
                        best[c.subject_id] = (c.score, decision.threshold, hand)
        hits = []
        for matched, (score, threshold, hand) in sorted(best.items(), key=lambda kv: -kv[1][0]):
            case = DuplicateCase(person_id=person_id, matched_person_id=matched, hand=hand,
                                 score=score, threshold=threshold, opened_at=self.clock(),
                                 opened_by=self.actor, status=CaseStatus.OPEN.value)
            self.session.add(case)
            self.session.flush()
            audit.record(self.session, actor=self.actor, action="matcher.duplicate_case.opened",
                         entity_type="duplicate_case", entity_id=str(case.id),
                         data={"person_id": person_id, "matched_person_id": matched,
                               "hand": hand, "score": _score_text(score),
                               "threshold": _score_text(threshold)}, at=self.clock())
            hits.append(DuplicateHit(case.id, matched, hand, score, threshold))
        return hits

    # -- duplicate cases -----------------------------------------------------------------------

    def resolve_case(self, case_id: int, status: CaseStatus, note: str,
                     roles: frozenset[Role]) -> DuplicateCase:
        """Close a duplicate case as a confirmed duplicate or dismissed (admins only)."""
        if not roles & CASE_RESOLVERS:
            raise PermissionDenied("only an administrator may resolve a duplicate case")
        if status is CaseStatus.OPEN:
            raise ValidationFailed("a case is resolved as confirmed_duplicate or dismissed",
                                   [FieldProblem("status", "must not be open")])
        if not note.strip():
            raise ValidationFailed("say why", [FieldProblem("note", "must not be empty")])
        case = self.session.get(DuplicateCase, case_id)
        if case is None:
            raise NotFound(f"no duplicate case {case_id}")
        if case.status != CaseStatus.OPEN.value:
            raise Conflict(f"duplicate case {case_id} is already {case.status}")
        case.status, case.resolution_note = status.value, note.strip()
        case.resolved_at, case.resolved_by = self.clock(), self.actor
        audit.record(self.session, actor=self.actor, action="matcher.duplicate_case.resolved",
                     entity_type="duplicate_case", entity_id=str(case_id),
                     data={"status": status.value, "note": case.resolution_note},
                     at=self.clock())
        self.session.flush()
        return case

    def open_cases(self) -> list[DuplicateCase]:
        return list(self.session.scalars(
            select(DuplicateCase).where(DuplicateCase.status == CaseStatus.OPEN.value)
            .order_by(DuplicateCase.id)))

    # -- identification ------------------------------------------------------------------------

    def identify(self, sample: Sample, purpose: str = "identify") -> Decision:
        """1:N identification of one capture, audited with the whole decision record."""
        probe = sample if isinstance(sample, biometric.Template) else biometric.extract(sample)
        self.follower.catch_up(self.session)
        index = self.follower.index
        candidates = index.search(probe, k=self.identify_policy.candidates)
        decision = decide(candidates, len(index), self.identify_policy, self.impostors)
        record = {k: (_score_text(v) if isinstance(v, float) else v)
                  for k, v in decision.as_record().items()}
        record["purpose"] = purpose
        audit.record(self.session, actor=self.actor, action="matcher.identify",
                     entity_type="person", entity_id=decision.subject_id or "-",
                     data=record, at=self.clock())
        return decision

