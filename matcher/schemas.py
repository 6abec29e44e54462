"""Request and response bodies of the matcher API (pydantic)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from matcher.decision import Decision
from matcher.models import CaseStatus, DuplicateCase, Person
from matcher.service import EnrolmentResult


class PersonIn(BaseModel):
    display_name: str = Field(min_length=1, max_length=200)
    external_ref: str | None = Field(default=None, max_length=100)


class PersonOut(BaseModel):
    id: str
    display_name: str
    external_ref: str | None
    created_at: datetime
    enrolled_at: datetime | None

    @classmethod
    def of(cls, p: Person) -> PersonOut:
        return cls(id=p.id, display_name=p.display_name, external_ref=p.external_ref,
                   created_at=p.created_at, enrolled_at=p.enrolled_at)


class DuplicateHitOut(BaseModel):
    case_id: int
    matched_person_id: str
    hand: str
    score: float
    threshold: float


class EnrolmentOut(BaseModel):
    person_id: str
    outcome: str
    templates_stored: int
    duplicates: list[DuplicateHitOut]

    @classmethod
    def of(cls, r: EnrolmentResult) -> EnrolmentOut:
        return cls(person_id=r.person_id, outcome=r.outcome.value,
                   templates_stored=r.templates_stored,
                   duplicates=[DuplicateHitOut(case_id=h.case_id,
                                               matched_person_id=h.matched_person_id,
                                               hand=h.hand, score=h.score, threshold=h.threshold)
                               for h in r.duplicates])


class DecisionOut(BaseModel):
    outcome: str
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

    @classmethod
    def of(cls, d: Decision) -> DecisionOut:
        return cls(**d.as_record())


class CaseOut(BaseModel):
    id: int
    person_id: str
    matched_person_id: str
    hand: str
    score: float
    threshold: float
    status: str
    opened_at: datetime
    opened_by: str
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None

    @classmethod
    def of(cls, c: DuplicateCase) -> CaseOut:
        return cls(id=c.id, person_id=c.person_id, matched_person_id=c.matched_person_id,
                   hand=c.hand, score=c.score, threshold=c.threshold, status=c.status,
                   opened_at=c.opened_at, opened_by=c.opened_by, resolved_at=c.resolved_at,
                   resolved_by=c.resolved_by, resolution_note=c.resolution_note)


class ResolutionIn(BaseModel):
    status: CaseStatus
    note: str = Field(min_length=1, max_length=2000)
