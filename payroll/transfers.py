"""Settling bank-paid salaries by the bank transfer file, exactly once.

A salary posted for an employee with a bank or postal account (``Payment.channel == 'bank'``)
stays held on the employee's net-pay account until the run's bank transfer file (CSV or
ISO 20022 pain.001) is produced. Producing it books, in the same database transaction, new
double-entry transactions moving each such salary from its net-pay account to the payroll bank
clearing account (``payroll/bank_clearing``, kind ``settlement``: money handed to the bank,
waiting for the bank's debit of the employer's account), and marks the payments ``transferred``
with the ledger transaction, who produced the file and when. Such a salary is never released at a
pay point (:mod:`payroll.release` refuses it), so it cannot be paid twice.

Exactly once: the run row is locked first (``SELECT ... FOR UPDATE``), then its bank payments
still ``held``; two officers producing the file at once queue on the run lock and the second
finds nothing left to book. Producing the file again books nothing and gives the same transfers.
Services flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from palmvein.core import audit
from palmvein.core.money import Money
from payments import ledger
from payments.ledger import Leg
from payments.models import AccountKind
from payroll import booking, repository
from payroll.errors import RunNotFound, RunStateConflict
from payroll.models import PayChannel, Payment, PaymentStatus, PayrollRun, RunStatus

CLEARING_ID = "bank_clearing"
CHUNK = 100  # salaries per ledger transaction (the ledger's balance check sums its postings)


@dataclass(frozen=True, slots=True)
class BankSettlement:
    """What producing a run's bank file booked now, and what the run has transferred in all."""

    run_id: int
    booked: int  # salaries moved to bank clearing by this call (0 when produced before)
    booked_amount: int
    transferred: int  # bank salaries of the run transferred, this call included
    transferred_amount: int
    currency: str
    transferred_at: datetime | None  # when the run's file was first produced
    transferred_by: str | None


def clearing_account(session: Session, currency: str, now: datetime) -> int:
    """The payroll bank clearing account of ``currency`` (opened when missing)."""
    booking.upsert_accounts(
        session,
        [
            booking.account_row(
                booking.OWNER, CLEARING_ID, AccountKind.SETTLEMENT, currency, now, False
            )
        ],
    )
    return booking.find_account_id(
        session, booking.OWNER, CLEARING_ID, AccountKind.SETTLEMENT, currency
    )


def pending_bank_payments(session: Session, run_id: int) -> int:
    """Bank-paid salaries of the run still held: the bank file has not been produced yet."""
    return int(
        session.scalar(
            select(func.count(Payment.id)).where(
                Payment.run_id == run_id,
                Payment.channel == PayChannel.BANK.value,
                Payment.status == PaymentStatus.HELD.value,
            )
        )
        or 0
    )


def settle_bank_transfers(
    session: Session, run_id: int, *, actor: str, reference: str, now: datetime
) -> BankSettlement:
    """Book the run's held bank salaries to bank clearing and mark them ``transferred``.

    ``reference`` is the file's identifier (the pain.001 MsgId), stored on each payment. Only a
    ``posted`` run has a bank file (RunStateConflict otherwise). Idempotent: what was booked
    before is not booked again.
    """
    run = repository.lock_run(session, run_id)
    if run is None:
        raise RunNotFound(f"no payroll run {run_id}")
    if run.status != RunStatus.POSTED.value:
        raise RunStateConflict(
            f"run {run.id} is {run.status}: bank files only for a posted run "
            "(its net amounts are booked and final)"
        )
    held = list(
        session.scalars(
            select(Payment)
            .where(
                Payment.run_id == run.id,
                Payment.channel == PayChannel.BANK.value,
                Payment.status == PaymentStatus.HELD.value,
            )
            .order_by(Payment.employee_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    booked_amount = 0
    if held:
        clearing = clearing_account(session, run.currency, now)
        for start in range(0, len(held), CHUNK):
            chunk = held[start : start + CHUNK]
            total = sum(p.amount for p in chunk)
            legs = [Leg(p.net_account_id, Money(-p.amount, run.currency)) for p in chunk]
            legs.append(Leg(clearing, Money(total, run.currency)))
            transaction = ledger.post(
                session,
                legs,
                kind="payroll_bank_transfer",
                description=f"bank file {reference}: {len(chunk)} salaries {run.period}",
                now=now,
            )
            for payment in chunk:
                payment.status = PaymentStatus.TRANSFERRED.value
                payment.transfer_transaction_id = transaction.id
                payment.transferred_at = now
                payment.transferred_by = actor
                payment.transfer_reference = reference
            booked_amount += total
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="payroll.run.bank_transferred",
            entity_type="payroll_run",
            entity_id=str(run.id),
            data={
                "period": run.period,
                "reference": reference,
                "salaries": len(held),
                "amount": booked_amount,
                "currency": run.currency,
            },
            at=now,
        )
    return _settlement(session, run, booked=len(held), booked_amount=booked_amount)


def bank_settlement(session: Session, run_id: int) -> BankSettlement:
    """What the run's bank file has booked so far (nothing booked by this call)."""
    run = session.get(PayrollRun, run_id)
    if run is None:
        raise RunNotFound(f"no payroll run {run_id}")
    return _settlement(session, run, booked=0, booked_amount=0)


def _settlement(
    session: Session, run: PayrollRun, *, booked: int, booked_amount: int
) -> BankSettlement:
    count, amount, first = session.execute(
        select(
            func.count(Payment.id),
            func.coalesce(func.sum(Payment.amount), 0),
            func.min(Payment.transferred_at),
        ).where(Payment.run_id == run.id, Payment.status == PaymentStatus.TRANSFERRED.value)
    ).one()
    by = None
    if first is not None:
        by = session.scalar(
            select(Payment.transferred_by)
            .where(Payment.run_id == run.id, Payment.status == PaymentStatus.TRANSFERRED.value)
            .order_by(Payment.transferred_at, Payment.id)
            .limit(1)
        )
    return BankSettlement(
        run_id=run.id,
        booked=booked,
        booked_amount=booked_amount,
        transferred=int(count),
        transferred_amount=int(amount),
        currency=run.currency,
        transferred_at=first,
        transferred_by=by,
    )
