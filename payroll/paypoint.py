"""Salary release at a pay point: only the employee's own palm releases their held net pay.

The flow a cashier runs at a registered pay-point device (the device's signature and its pay
point are checked by the HTTP layer before this is called):

1. The employee states who they are (employee number) and presents their palm.
2. The palm is identified 1:N (``matcher``); the decision must be a ``match`` whose subject is the
   palm enrolled for that employee. A palm that identifies as somebody else is refused even if it
   also resembles the claimed employee: 1:N catches the person who tries a colleague's salary.
3. Every held pay-point salary of that employee is released, to the wallet or in cash (recorded
   against the pay point's till account), exactly once (``payroll.release``). A salary paid by
   bank transfer (the employee has an account; ``Payment.channel == 'bank'``) is never released
   here: with nothing else held the attempt is refused as ``paid_by_bank``, and a supervisor's
   manual release raises :class:`~payroll.errors.PaidByBankTransfer`.

Every attempt, refused or not, is a :class:`~payroll.models.ReleaseAttempt` row written in the same
transaction, so refusals are *returned* (never raised, which would roll the record back). After
:data:`MANUAL_RELEASE_AFTER` refused attempts for an employee, a supervisor may release by hand
with a written reason (audited; the release row carries the reason, and reports show it): palms
scarred by work, or a scanner that fails one person, must not stop a salary for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devices.models import PayPoint
from palmvein.core import audit
from palmvein.core.errors import PermissionDenied, ValidationFailed
from payroll.errors import EmployeeNotFound, PaidByBankTransfer
from payroll.models import (
    AttemptOutcome,
    Employee,
    PayChannel,
    Payment,
    PaymentStatus,
    Release,
    ReleaseAttempt,
    ReleaseChannel,
)
from payroll.release import release_payment

#: Refused palm attempts after which a supervisor may release an employee's salary by hand.
MANUAL_RELEASE_AFTER = 3

_REASONS = {
    AttemptOutcome.NO_MATCH: "the palm was not recognised; ask the employee to place the palm "
    "again, flat and still",
    AttemptOutcome.AMBIGUOUS: "the palm is too close to two enrolled people to decide; try again",
    AttemptOutcome.WRONG_PERSON: "this palm does not belong to the employee claimed",
    AttemptOutcome.NOT_ENROLLED: "the employee has no enrolled palm; send them to HR",
    AttemptOutcome.NOTHING_HELD: "no salary is waiting for this employee",
    AttemptOutcome.WRONG_PAY_POINT: "this salary is paid at another pay point",
    AttemptOutcome.PAID_BY_BANK: "this salary is paid by bank transfer to the employee's "
    "account, not at a pay point",
}


class Identification(Protocol):
    """What a matcher decision must offer (``matcher.Decision`` does)."""

    @property
    def outcome(self) -> str: ...

    @property
    def subject_id(self) -> str | None: ...

    @property
    def score(self) -> float: ...

    @property
    def threshold(self) -> float: ...


@dataclass(frozen=True)
class PayPointResult:
    """The answer shown at the counter. ``released`` is empty when the attempt was refused."""

    outcome: AttemptOutcome
    attempt_id: int
    employee_number: str
    released: Sequence[Release] = field(default_factory=tuple)
    failed_attempts: int = 0

    @property
    def reason(self) -> str | None:
        return _REASONS.get(self.outcome)

    @property
    def manual_release_allowed(self) -> bool:
        return self.failed_attempts >= MANUAL_RELEASE_AFTER


class NotEnoughFailedAttempts(PermissionDenied):
    """A manual release asked for before the palm has been tried enough times."""

    code = "payroll-manual-release-too-early"


class NotAPayPoint(PermissionDenied):
    code = "payroll-not-a-pay-point"


def pay_point_code(session: Session, pay_point_id: int | None) -> str:
    """The code of the pay point a signed device is registered to."""
    place = session.get(PayPoint, pay_point_id) if pay_point_id is not None else None
    if place is None:
        raise NotAPayPoint("this device is not registered to a pay point")
    return place.code


def _employee(session: Session, employee_number: str) -> Employee:
    employee = session.scalars(
        select(Employee).where(Employee.employee_number == employee_number)
    ).one_or_none()
    if employee is None:
        raise EmployeeNotFound(f"no employee numbered {employee_number!r}")
    return employee


def _held(session: Session, employee_id: int) -> list[Payment]:
    """The employee's held pay-point salaries (bank-paid ones are the bank file's to settle).

    Locked, and re-read once the lock is ours: two counters serving one employee at once queue
    here, and the second then sees nothing left to release instead of failing half-way.
    """
    return list(
        session.scalars(
            select(Payment)
            .where(
                Payment.employee_id == employee_id,
                Payment.status == PaymentStatus.HELD.value,
                Payment.channel == PayChannel.PAY_POINT.value,
            )
            .order_by(Payment.period, Payment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _bank_paid(session: Session, employee_id: int) -> int:
    """How many salaries of the employee are waiting for (or went by) the bank transfer file."""
    return int(
        session.scalar(
            select(func.count(Payment.id)).where(
                Payment.employee_id == employee_id,
                Payment.channel == PayChannel.BANK.value,
                Payment.status.in_([PaymentStatus.HELD.value, PaymentStatus.TRANSFERRED.value]),
            )
        )
        or 0
    )


def failed_attempts(session: Session, employee_id: int) -> int:
    """Refused palm attempts for ``employee_id`` since their last release."""
    last_release = session.scalar(
        select(func.max(Release.released_at)).where(Release.employee_id == employee_id)
    )
    query = select(func.count(ReleaseAttempt.id)).where(
        ReleaseAttempt.claimed_employee_id == employee_id,
        ReleaseAttempt.outcome.in_(
            [AttemptOutcome.NO_MATCH.value, AttemptOutcome.AMBIGUOUS.value,
             AttemptOutcome.WRONG_PERSON.value]
        ),
    )  # fmt: skip
    if last_release is not None:
        query = query.where(ReleaseAttempt.at > last_release)
    return int(session.scalar(query) or 0)


def _score_text(value: float | None) -> str | None:
    return None if value is None else f"{value:.4f}"


def claim_salary(
    session: Session,
    *,
    employee_number: str,
    decision: Identification,
    channel: ReleaseChannel,
    device_id: str,
    pay_point: str,
    cashier: str,
    now: datetime,
) -> PayPointResult:
    """Release the held salaries of ``employee_number`` if ``decision`` is their palm.

    Parameters
    ----------
    decision
        The 1:N identification of the palm captured at the counter.
    channel
        ``wallet`` credits the employee's wallet; ``cash`` records cash handed over by the
        cashier, booked to the pay point's till account.
    device_id, pay_point
        The signed pay-point device and the pay point it is registered to.

    Returns
    -------
    PayPointResult
        Released salaries, or the refusal and its reason; an attempt row is written either way.
    """
    employee = _employee(session, employee_number)
    outcome = AttemptOutcome.RELEASED
    if employee.subject_id is None:
        outcome = AttemptOutcome.NOT_ENROLLED
    elif str(decision.outcome) == "ambiguous":
        outcome = AttemptOutcome.AMBIGUOUS
    elif str(decision.outcome) != "match" or decision.subject_id is None:
        outcome = AttemptOutcome.NO_MATCH
    elif decision.subject_id != employee.subject_id:
        outcome = AttemptOutcome.WRONG_PERSON
    elif channel == ReleaseChannel.CASH and employee.pay_point != pay_point:
        outcome = AttemptOutcome.WRONG_PAY_POINT
    held = _held(session, employee.id) if outcome == AttemptOutcome.RELEASED else []
    if outcome == AttemptOutcome.RELEASED and not held:
        bank = _bank_paid(session, employee.id)
        outcome = AttemptOutcome.PAID_BY_BANK if bank else AttemptOutcome.NOTHING_HELD
    released = [
        release_payment(session, payment.id, channel=channel, released_by=cashier, now=now,
                        device_id=device_id)
        for payment in held
    ]  # fmt: skip
    attempt = ReleaseAttempt(
        at=now,
        device_id=device_id,
        pay_point=pay_point,
        cashier=cashier,
        claimed_employee_id=employee.id,
        matched_subject_id=decision.subject_id if str(decision.outcome) == "match" else None,
        outcome=outcome.value,
        score=_score_text(decision.score),
        threshold=_score_text(decision.threshold),
        releases=len(released),
    )
    session.add(attempt)
    session.flush()
    audit.record(
        session,
        actor=cashier,
        action="payroll.paypoint.attempt",
        entity_type="payroll_employee",
        entity_id=employee.employee_number,
        data={
            "outcome": outcome.value,
            "device_id": device_id,
            "pay_point": pay_point,
            "score": attempt.score,
            "threshold": attempt.threshold,
            "matched_subject": attempt.matched_subject_id,
            "released": [r.payment_id for r in released],
        },
        at=now,
    )
    return PayPointResult(
        outcome=outcome,
        attempt_id=attempt.id,
        employee_number=employee.employee_number,
        released=tuple(released),
        failed_attempts=failed_attempts(session, employee.id),
    )


def manual_release(
    session: Session,
    *,
    employee_number: str,
    supervisor: str,
    reason: str,
    channel: ReleaseChannel,
    device_id: str,
    pay_point: str,
    now: datetime,
) -> list[Release]:
    """A supervisor releases an employee's held salaries after repeated refused palm attempts.

    Raises
    ------
    NotEnoughFailedAttempts
        Fewer than :data:`MANUAL_RELEASE_AFTER` refused attempts since the last release.
    ValidationFailed
        No written reason, or nothing held.
    """
    if not reason.strip():
        raise ValidationFailed("a manual release needs the supervisor's reason")
    employee = _employee(session, employee_number)
    failures = failed_attempts(session, employee.id)
    if failures < MANUAL_RELEASE_AFTER:
        raise NotEnoughFailedAttempts(
            f"employee {employee_number} has {failures} refused palm attempt(s); a manual release"
            f" needs {MANUAL_RELEASE_AFTER} first"
        )
    if channel == ReleaseChannel.CASH and employee.pay_point != pay_point:
        raise ValidationFailed(_REASONS[AttemptOutcome.WRONG_PAY_POINT])
    held = _held(session, employee.id)
    if not held and _bank_paid(session, employee.id):
        raise PaidByBankTransfer(
            f"the salaries of employee {employee_number} are paid by bank transfer to their"
            " account; nothing is released at a pay point"
        )
    if not held:
        raise ValidationFailed(f"no salary is waiting for employee {employee_number}")
    return [
        release_payment(session, payment.id, channel=channel, released_by=supervisor, now=now,
                        device_id=device_id, supervisor_override_reason=reason.strip())
        for payment in held
    ]  # fmt: skip
