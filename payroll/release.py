"""Releasing held net pay to its employee, exactly once.

This is the money half of a pay-point release: the caller (the pay-point flow, which identifies
the palm with the matcher and checks the signed device) decides WHO is being paid; this module
moves the held net pay from the employee's net-pay account to their wallet, or to the pay point's
cash account when the cashier pays it out in cash, and records the release.

Exactly once: the payment row is locked (``SELECT ... FOR UPDATE``) and must still be ``held``;
two concurrent releases of one salary queue on that lock and the second finds it released. The
unique ``payroll_releases.payment_id`` refuses a second release row even if a caller bypassed the
lock. Services flush and never commit.

Only a ``pay_point`` salary is released here: a ``bank`` one (the employee has an account) is
paid by the bank transfer file (:mod:`payroll.transfers`), and asking to release it raises
:class:`~payroll.errors.PaidByBankTransfer` before any money moves (a CHECK on the payment row
refuses it in the database too).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from palmvein.core import audit
from palmvein.core.errors import ValidationFailed
from palmvein.core.money import Money
from payments import ledger
from payments.models import AccountKind
from payroll import booking
from payroll.errors import (
    AlreadyReleased,
    EmployeeNotFound,
    PaidByBankTransfer,
    PaymentNotFound,
    RunStateConflict,
)
from payroll.models import (
    Employee,
    PayChannel,
    Payment,
    PaymentStatus,
    Release,
    ReleaseChannel,
)

PAY_POINT_OWNER = "pay_point"


class NoWallet(ValidationFailed):
    code = "payroll-no-wallet"


def pay_point_cash_account(session: Session, pay_point: str, currency: str, now: datetime) -> int:
    """The e-money account of a pay point's till: cash paid out is credited here, and the
    operator settles it with the post office or agency later."""
    found = ledger.find_account(
        session,
        owner_type=PAY_POINT_OWNER,
        owner_id=pay_point,
        kind=AccountKind.AGENT_FLOAT,
        currency=currency,
    )
    if found is not None:
        return found.id
    booking.upsert_accounts(
        session,
        [
            booking.account_row(
                PAY_POINT_OWNER, pay_point, AccountKind.AGENT_FLOAT, currency, now, False
            )
        ],
    )
    return booking.find_account_id(
        session, PAY_POINT_OWNER, pay_point, AccountKind.AGENT_FLOAT, currency
    )


def held_payments(session: Session, employee_id: int) -> list[Payment]:
    """Salaries of the employee still held: pay-point ones to release, bank ones to transfer."""
    return list(
        session.scalars(
            select(Payment)
            .where(Payment.employee_id == employee_id, Payment.status == PaymentStatus.HELD.value)
            .order_by(Payment.period, Payment.id)
        )
    )


def release_payment(
    session: Session,
    payment_id: int,
    *,
    channel: ReleaseChannel,
    released_by: str,
    now: datetime,
    device_id: str | None = None,
    supervisor_override_reason: str | None = None,
) -> Release:
    """Release one held salary; raises AlreadyReleased if it was released before."""
    payment = session.scalars(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if payment is None:
        raise PaymentNotFound(f"no payroll payment {payment_id}")
    if payment.channel == PayChannel.BANK.value:
        raise PaidByBankTransfer(
            f"salary {payment.period} of payment {payment_id} is paid by bank transfer"
            f" ({payment.status}); it cannot be released at a pay point"
        )
    if payment.status == PaymentStatus.RELEASED.value:
        raise AlreadyReleased(
            f"salary {payment.period} of payment {payment_id} is already released"
        )
    if payment.status != PaymentStatus.HELD.value:
        raise RunStateConflict(f"payment {payment_id} is {payment.status}; nothing to release")
    if supervisor_override_reason is not None and not supervisor_override_reason.strip():
        raise ValidationFailed("a supervisor override needs a reason")
    employee = session.get(Employee, payment.employee_id)
    if employee is None:  # pragma: no cover - foreign key
        raise EmployeeNotFound(f"no employee {payment.employee_id}")
    if channel == ReleaseChannel.WALLET:
        wallet = (
            ledger.find_account(
                session,
                owner_type="person",
                owner_id=employee.subject_id,
                kind=AccountKind.WALLET,
                currency=payment.currency,
            )
            if employee.subject_id
            else None
        )
        if wallet is None:
            raise NoWallet(f"employee {employee.employee_number} has no {payment.currency} wallet")
        destination = wallet.id
    else:
        destination = pay_point_cash_account(session, employee.pay_point, payment.currency, now)
    transaction = ledger.transfer(
        session,
        debit_account_id=payment.net_account_id,
        credit_account_id=destination,
        amount=Money(payment.amount, payment.currency),
        kind="payroll_release",
        description=f"salary {payment.period} {employee.employee_number} ({channel.value})",
        now=now,
    )
    payment.status = PaymentStatus.RELEASED.value
    release = Release(
        payment_id=payment.id,
        employee_id=employee.id,
        run_id=payment.run_id,
        amount=payment.amount,
        currency=payment.currency,
        released_at=now,
        channel=channel.value,
        device_id=device_id,
        released_by=released_by,
        supervisor_override_reason=supervisor_override_reason,
        transaction_id=transaction.id,
    )
    session.add(release)
    session.flush()
    audit.record(
        session,
        actor=released_by,
        action="payroll.salary.released",
        entity_type="payroll_payment",
        entity_id=str(payment.id),
        data={
            "employee": employee.employee_number,
            "period": payment.period,
            "amount": payment.amount,
            "channel": channel.value,
            "device_id": device_id,
            "override_reason": supervisor_override_reason,
        },
        at=now,
    )
    return release
