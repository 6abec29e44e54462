"""Control reports of the payroll office.

- unclaimed salaries: net pay held for more than N days. A salary nobody collects month after
  month is the classic sign of a ghost worker (a name on the payroll with no person behind it).
  Salaries paid by bank transfer are not unclaimed once the bank file is produced (they are
  ``transferred``); a bank salary still held (``channel`` ``bank``) means the file was not;
- one palm on several employee records: the same enrolled person linked to two or more
  employee numbers (one person drawing two salaries);
- employees never enrolled: who cannot be paid by palm at all;
- release history of one employee: every salary booked for them and how it was released.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from matcher.models import Person
from palmvein.core.money import Money
from payroll.errors import EmployeeNotFound
from payroll.models import Employee, Payment, PaymentStatus, Release


def _money(minor: int, currency: str) -> str:
    return str(Money(minor, currency).to_decimal())


@dataclass(frozen=True, slots=True)
class UnclaimedSalary:
    employee_number: str
    name_latin: str
    name_arabic: str
    pay_point: str
    period: str
    run_id: int
    amount: str
    currency: str
    posted_at: datetime
    days_unclaimed: int
    channel: str = "pay_point"  # PayChannel: "bank" = the bank transfer file is not produced


@dataclass(frozen=True, slots=True)
class SharedPalm:
    subject_id: str
    employee_numbers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NotEnrolled:
    employee_number: str
    name_latin: str
    name_arabic: str
    unit: str
    pay_point: str
    reason: str  # "no palm linked" | "enrolment not completed" | "person deleted"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    period: str
    run_id: int
    amount: str
    currency: str
    status: str
    posted_at: datetime
    released_at: datetime | None
    channel: str | None
    device_id: str | None
    released_by: str | None
    supervisor_override_reason: str | None


def as_rows(items: list[Any]) -> list[dict[str, Any]]:
    """Plain dicts (datetimes as ISO text) for JSON output."""
    rows = []
    for item in items:
        row = asdict(item)
        rows.append({k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()})
    return rows


def unclaimed(session: Session, *, older_than_days: int, now: datetime) -> list[UnclaimedSalary]:
    """Salaries still held ``older_than_days`` or more after posting, oldest first."""
    cutoff = now - timedelta(days=older_than_days)
    rows = session.execute(
        select(Payment, Employee)
        .join(Employee, Employee.id == Payment.employee_id)
        .where(Payment.status == PaymentStatus.HELD.value, Payment.posted_at <= cutoff)
        .order_by(Payment.posted_at, Employee.employee_number)
    )
    return [
        UnclaimedSalary(
            employee_number=employee.employee_number,
            name_latin=employee.name_latin,
            name_arabic=employee.name_arabic,
            pay_point=employee.pay_point,
            period=payment.period,
            run_id=payment.run_id,
            amount=_money(payment.amount, payment.currency),
            currency=payment.currency,
            posted_at=payment.posted_at,
            days_unclaimed=(now - payment.posted_at).days,
            channel=payment.channel,
        )
        for payment, employee in rows
    ]


def shared_palms(session: Session) -> list[SharedPalm]:
    """Enrolled persons linked to more than one employee record (who has not left)."""
    shared = (
        select(Employee.subject_id)
        .where(Employee.subject_id.is_not(None), Employee.status != "left")
        .group_by(Employee.subject_id)
        .having(func.count() > 1)
    )
    groups: dict[str, list[str]] = {}
    for subject_id, number in session.execute(
        select(Employee.subject_id, Employee.employee_number)
        .where(Employee.subject_id.in_(shared), Employee.status != "left")
        .order_by(Employee.subject_id, Employee.employee_number)
    ):
        groups.setdefault(str(subject_id), []).append(number)
    return [SharedPalm(subject, tuple(numbers)) for subject, numbers in groups.items()]


def never_enrolled(session: Session) -> list[NotEnrolled]:
    """Employees (not left) with no usable palm enrolment."""
    rows = session.execute(
        select(Employee, Person)  # Person is None where no palm is linked
        .outerjoin(Person, Person.id == Employee.subject_id)
        .where(
            Employee.status != "left",
            or_(
                Employee.subject_id.is_(None),
                Person.enrolled_at.is_(None),
                Person.deleted_at.is_not(None),
            ),
        )
        .order_by(Employee.employee_number)
    )
    result = []
    for employee, joined in rows:
        person: Person | None = joined
        if person is None:
            reason = "no palm linked"
        elif person.deleted_at is not None:
            reason = "person deleted"
        else:
            reason = "enrolment not completed"
        result.append(
            NotEnrolled(
                employee_number=employee.employee_number,
                name_latin=employee.name_latin,
                name_arabic=employee.name_arabic,
                unit=employee.unit,
                pay_point=employee.pay_point,
                reason=reason,
            )
        )
    return result


def release_history(session: Session, employee_number: str) -> list[HistoryEntry]:
    """Every salary booked for the employee, newest first, with how it was released (a salary
    sent by bank transfer shows channel ``bank``, when and by whom the bank file was produced)."""
    employee = session.scalar(select(Employee).where(Employee.employee_number == employee_number))
    if employee is None:
        raise EmployeeNotFound(f"no employee {employee_number!r}")
    rows = session.execute(
        select(Payment, Release)
        .outerjoin(Release, Release.payment_id == Payment.id)
        .where(Payment.employee_id == employee.id)
        .order_by(Payment.period.desc(), Payment.id.desc())
    )
    return [
        HistoryEntry(
            period=payment.period,
            run_id=payment.run_id,
            amount=_money(payment.amount, payment.currency),
            currency=payment.currency,
            status=payment.status,
            posted_at=payment.posted_at,
            released_at=release.released_at if release else payment.transferred_at,
            channel=release.channel if release else ("bank" if payment.transferred_at else None),
            device_id=release.device_id if release else None,
            released_by=release.released_by if release else payment.transferred_by,
            supervisor_override_reason=release.supervisor_override_reason if release else None,
        )
        for payment, release in rows
    ]
