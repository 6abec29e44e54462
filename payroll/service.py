"""Employees and salary structures: importing the employee file, storing structures.

Services flush and never commit; the CLI command or the request commits. An import is
all-or-nothing: every row is checked first (fields, duplicates in the file, links to enrolled
persons) and nothing is written unless no problem was found.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from palmvein.core import audit
from palmvein.core.errors import FieldProblem
from payroll import repository
from payroll.errors import EmployeeNotFound, ImportRejected
from payroll.importer import EmployeeRecord, ImportProblem, read_rows, validate_rows
from payroll.models import Employee, Loan, SalaryStructure
from payroll.structures import Structure, parse_structure


@dataclass(frozen=True)
class ImportReport:
    """What an import found and did; ``problems`` empty means it was booked."""

    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: tuple[ImportProblem, ...] = field(default_factory=tuple)

    @property
    def booked(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "booked": self.booked,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "problems": [
                {"row": p.row, "field": p.field, "message": p.message} for p in self.problems
            ],
        }


def rejected(report: ImportReport) -> ImportRejected:
    return ImportRejected(
        f"the employee file has {len(report.problems)} problem(s); nothing was imported",
        [FieldProblem(f"row {p.row}: {p.field}", p.message) for p in report.problems],
    )


def check_import(
    session: Session, path: Any, *, currency: str
) -> tuple[list[EmployeeRecord], ImportReport]:
    """Read and check a file without writing anything; the report lists every problem."""
    header, rows = read_rows(path)
    records, problems = validate_rows(header, rows, currency=currency)
    problems.extend(_check_links(session, rows))
    problems.sort(key=lambda p: (p.row, p.field))
    return records, ImportReport(rows=sum(1 for r in rows if r), problems=tuple(problems))


def _check_links(session: Session, rows: Sequence[Mapping[str, str]]) -> list[ImportProblem]:
    # Checked on every row, also rows with other problems, so the report is complete.
    linked = [(i + 2, row.get("subject_id", "").strip()) for i, row in enumerate(rows)]
    known = repository.live_subject_ids(session, {subject for _, subject in linked if subject})
    return [
        ImportProblem(number, "subject_id", f"no enrolled person {subject!r}")
        for number, subject in linked
        if subject and subject not in known
    ]


def import_employees(
    session: Session,
    records: Sequence[EmployeeRecord],
    *,
    rows: int,
    actor: str,
    now: datetime,
    on_progress: Any = None,
) -> ImportReport:
    """Create or update (by employee number) every record; call only with a clean check."""
    existing = repository.employees_by_number(session, [r.employee_number for r in records])
    created = updated = unchanged = 0
    for record in records:
        employee = existing.get(record.employee_number)
        values = {
            "name_latin": record.name_latin,
            "name_arabic": record.name_arabic,
            "national_id": record.national_id,
            "unit": record.unit,
            "grade": record.grade,
            "pay_point": record.pay_point,
            "status": record.status.value,
            "account_scheme": record.account_scheme.value if record.account_scheme else None,
            "account_number": record.account_number,
            "subject_id": record.subject_id,
            "base_salary": record.base_salary,
        }
        if employee is None:
            employee = Employee(
                employee_number=record.employee_number, created_at=now, updated_at=now, **values
            )
            session.add(employee)
            created += 1
        elif any(getattr(employee, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(employee, key, value)
            employee.updated_at = now
            updated += 1
        else:
            unchanged += 1
        if on_progress is not None:
            on_progress(1)
    session.flush()
    _import_loans(
        session,
        records,
        existing
        | repository.employees_by_number(
            session, [r.employee_number for r in records if r.employee_number not in existing]
        ),
    )
    report = ImportReport(rows=rows, created=created, updated=updated, unchanged=unchanged)
    audit.record(
        session,
        actor=actor,
        action="payroll.employees.imported",
        entity_type="payroll_import",
        entity_id=now.isoformat(),
        data={"rows": rows, "created": created, "updated": updated, "unchanged": unchanged},
        at=now,
    )
    return report


def _import_loans(
    session: Session, records: Sequence[EmployeeRecord], employees: dict[str, Employee]
) -> None:
    with_loans = [r for r in records if r.loan_reference]
    if not with_loans:
        return
    ids = [employees[r.employee_number].id for r in with_loans]
    loans = {
        (loan.employee_id, loan.reference): loan
        for loan in session.scalars(select(Loan).where(Loan.employee_id.in_(ids)))
    }
    for record in with_loans:
        assert record.loan_reference and record.loan_instalment is not None
        assert record.loan_balance is not None
        employee_id = employees[record.employee_number].id
        loan = loans.get((employee_id, record.loan_reference))
        if loan is None:
            session.add(
                Loan(
                    employee_id=employee_id,
                    reference=record.loan_reference,
                    instalment=record.loan_instalment,
                    remaining=record.loan_balance,
                )
            )
        else:
            loan.instalment, loan.remaining = record.loan_instalment, record.loan_balance
    session.flush()


def import_file(
    session: Session, path: Any, *, currency: str, actor: str, now: datetime
) -> ImportReport:
    """Check and, when clean, book an employee file; raises ImportRejected with every problem."""
    records, report = check_import(session, path, currency=currency)
    if report.problems:
        raise rejected(report)
    return import_employees(session, records, rows=report.rows, actor=actor, now=now)


def get_employee(session: Session, employee_number: str) -> Employee:
    employee = repository.employees_by_number(session, [employee_number]).get(employee_number)
    if employee is None:
        raise EmployeeNotFound(f"no employee {employee_number!r}")
    return employee


# -- salary structures ------------------------------------------------------------------------


def add_structure(
    session: Session,
    *,
    grade: str,
    currency: str,
    effective_from: date,
    definition: dict[str, Any],
    actor: str,
    now: datetime,
) -> SalaryStructure:
    """Store a grade's structure from ``effective_from``; raises StructureInvalid listing every
    problem of the definition."""
    parse_structure(grade, currency, effective_from, definition)
    row = SalaryStructure(
        grade=grade,
        currency=currency,
        effective_from=effective_from,
        definition=json.dumps(definition, ensure_ascii=False, sort_keys=True),
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="payroll.structure.added",
        entity_type="payroll_structure",
        entity_id=str(row.id),
        data={"grade": grade, "effective_from": effective_from.isoformat(), "currency": currency},
        at=now,
    )
    return row


def structures_in_force(session: Session, on: date) -> dict[str, Structure]:
    """Grade -> the structure in force on ``on`` (the latest ``effective_from`` not after it)."""
    return {
        row.grade: parse_structure(
            row.grade, row.currency, row.effective_from, json.loads(row.definition)
        )
        for row in repository.structure_rows_in_force(session, on)
    }
