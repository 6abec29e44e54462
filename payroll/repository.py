"""Queries of the payroll domain (no rules here: those are in the services)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.orm import Session

from matcher.models import Person
from payroll.models import (
    Employee,
    Loan,
    Payment,
    PaymentStatus,
    PayrollRun,
    Payslip,
    SalaryStructure,
)

_CHUNK = 5000  # keeps IN lists below the drivers' parameter limits


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def employees_by_number(session: Session, numbers: Sequence[str]) -> dict[str, Employee]:
    found: dict[str, Employee] = {}
    for chunk in _chunks(list(numbers)):
        for employee in session.scalars(
            select(Employee).where(Employee.employee_number.in_(chunk))
        ):
            found[employee.employee_number] = employee
    return found


def live_subject_ids(session: Session, subject_ids: Iterable[str]) -> set[str]:
    """Those of ``subject_ids`` that name a person who exists and is not deleted."""
    wanted = sorted(set(subject_ids))
    found: set[str] = set()
    for chunk in _chunks(wanted):
        found.update(
            session.scalars(
                select(Person.id).where(Person.id.in_(chunk), Person.deleted_at.is_(None))
            )
        )
    return found


def enrolled_subject_ids(session: Session) -> set[str]:
    """Subjects with at least one enrolment completed and not deleted."""
    return set(
        session.scalars(
            select(Person.id).where(Person.deleted_at.is_(None), Person.enrolled_at.is_not(None))
        )
    )


def structure_rows_in_force(session: Session, on: date) -> list[SalaryStructure]:
    latest = (
        select(SalaryStructure.grade, func.max(SalaryStructure.effective_from).label("start"))
        .where(SalaryStructure.effective_from <= on)
        .group_by(SalaryStructure.grade)
        .subquery()
    )
    return list(
        session.scalars(
            select(SalaryStructure).join(
                latest,
                and_(
                    SalaryStructure.grade == latest.c.grade,
                    SalaryStructure.effective_from == latest.c.start,
                ),
            )
        )
    )


def employees_for_run(session: Session) -> list[Employee]:
    """Everyone who has not left, in a stable order."""
    return list(
        session.scalars(select(Employee).where(Employee.status != "left").order_by(Employee.id))
    )


def employee_facts_for_run(session: Session) -> list[Any]:
    """What computing a run reads of everyone who has not left, as plain rows (attribute access
    like :class:`Employee`; no ORM identity map of a whole payroll), in a stable order."""
    return list(
        session.execute(
            select(
                Employee.id,
                Employee.employee_number,
                Employee.status,
                Employee.account_number,
                Employee.subject_id,
                Employee.grade,
                Employee.base_salary,
            )
            .where(Employee.status != "left")
            .order_by(Employee.id)
        ).all()
    )


def loans_by_employee(session: Session) -> dict[int, list[Loan]]:
    loans: dict[int, list[Loan]] = {}
    for loan in session.scalars(
        select(Loan).where(Loan.remaining > 0).order_by(Loan.employee_id, Loan.reference)
    ):
        loans.setdefault(loan.employee_id, []).append(loan)
    return loans


def live_payment_employee_ids(
    session: Session, period: str, *, excluding_run: int | None = None
) -> set[int]:
    query = select(Payment.employee_id).where(
        Payment.period == period, Payment.status != PaymentStatus.REVERSED.value
    )
    if excluding_run is not None:
        query = query.where(Payment.run_id != excluding_run)
    return set(session.scalars(query))


def lock_run(session: Session, run_id: int) -> PayrollRun | None:
    return session.scalars(
        select(PayrollRun)
        .where(PayrollRun.id == run_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def unposted_payslips(session: Session, run_id: int, limit: int) -> list[Payslip]:
    """The next ``limit`` payable payslips of the run to post, by employee.

    Batches post in employee order, one poster at a time (the run row is locked) and commit
    whole, so the posted employees are exactly those up to the highest one with a payment: the
    next batch is an index range scan after it. No anti-join with the payments here: a payslip
    after the highest posted employee has no payment by definition, and the anti-join made the
    planner sort every remaining payslip and every payment on each batch (the posting slowed
    with volume). :func:`unposted_count` checks the whole run before it is marked posted.
    """
    last = session.scalar(select(func.max(Payment.employee_id)).where(Payment.run_id == run_id))
    query = select(Payslip).where(Payslip.run_id == run_id, Payslip.payable.is_(True))
    if last is not None:
        query = query.where(Payslip.employee_id > last)
    return list(session.scalars(query.order_by(Payslip.employee_id).limit(limit)))


def unposted_count(session: Session, run_id: int) -> int:
    """Payable payslips of the run without a payment (the posting marker), over the whole run."""
    posted = select(Payment.id).where(
        Payment.run_id == run_id, Payment.employee_id == Payslip.employee_id
    )
    return int(
        session.scalar(
            select(func.count())
            .select_from(Payslip)
            .where(Payslip.run_id == run_id, Payslip.payable.is_(True), ~posted.exists())
        )
        or 0
    )


def analyze(session: Session, *tables: str) -> None:
    """Refresh the planner's statistics of ``tables`` (PostgreSQL) after a bulk insert, so the
    next queries are planned for the rows just written rather than for an empty table."""
    if session.get_bind().dialect.name == "postgresql":
        for table in tables:
            session.execute(text(f"ANALYZE {table}"))


def payment_totals(session: Session, run_id: int) -> list[tuple[str, str, int, int]]:
    """(status, channel, count, sum of amounts) of the run's payments, one aggregate query
    (grouped in the database: no payment row is read into Python)."""
    rows = session.execute(
        select(
            Payment.status,
            Payment.channel,
            func.count(Payment.id),
            func.coalesce(func.sum(Payment.amount), 0),
        )
        .where(Payment.run_id == run_id)
        .group_by(Payment.status, Payment.channel)
    )
    return [(str(status), str(channel), int(n), int(total)) for status, channel, n, total in rows]
