"""Fixtures for the payroll tests: an office with a grade structure and a few employees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from matcher.models import Person
from payroll import service
from payroll.sample import ALGERIA_FROM, algeria_structure, employee_rows, write_csv

from ..conftest import FakeClock


def enrol_person(session: Session, subject_id: str, now: datetime) -> None:
    session.add(
        Person(
            id=subject_id,
            display_name=subject_id,
            created_by="test",
            created_at=now,
            enrolled_at=now,
        )
    )
    session.flush()


@dataclass
class Office:
    session: Session
    clock: FakeClock
    tmp: Path

    @property
    def now(self) -> datetime:
        return self.clock()

    def import_rows(self, rows: list[dict[str, str]]) -> service.ImportReport:
        path = write_csv(self.tmp / "employees.csv", rows)
        report = service.import_file(
            self.session, path, currency="DZD", actor="hr.clerk", now=self.now
        )
        self.session.commit()
        return report


@pytest.fixture
def office(db: Session, clock: FakeClock, tmp_path: Path) -> Office:
    service.add_structure(
        db,
        grade="G12",
        currency="DZD",
        effective_from=ALGERIA_FROM,
        definition=algeria_structure(),
        actor="payroll.officer",
        now=clock(),
    )
    db.commit()
    return Office(db, clock, tmp_path)


def four_employees(office: Office) -> list[dict[str, str]]:
    """E000001 enrolled with a loan, no account; E000002 enrolled, no account (both paid at a pay
    point); E000003 not enrolled, paid by bank; E000004 suspended."""
    for subject in ("subj-1", "subj-2", "subj-4"):
        enrol_person(office.session, subject, office.now)
    rows = employee_rows(4, seed=1, subject_ids=["subj-1", "subj-2", None, "subj-4"])
    rows[0].update(
        account_scheme="",
        account_number="",
        base_salary="45000", loan_reference="PRET-1", loan_instalment="5000", loan_balance="12000"
    )
    rows[1].update(
        account_scheme="",
        account_number="",
        base_salary="30000",
        loan_reference="",
        loan_instalment="",
        loan_balance="",
    )
    rows[2].update(base_salary="40000", loan_reference="", loan_instalment="", loan_balance="")
    rows[3].update(status="suspended", loan_reference="", loan_instalment="", loan_balance="")
    office.import_rows(rows)
    return rows
