"""Tables of the payroll domain: employees, loans, salary structures, runs, payslips, payments
(the net pay held for each employee) and releases.

What the database itself guarantees (migration ``0400_payroll``):

- one live payment per employee and pay period: a unique index on (employee, period) over the
  payments that are not reversed, so a second run for the same month cannot pay anyone twice;
- one payment per employee per run (the per-employee posting marker that makes posting
  resumable), and one release per payment (a salary is released at most once);
- statuses, channels and amounts are CHECKed;
- how a salary is paid is fixed when it is posted (``channel``, migration ``0420_bank_transfer``):
  a ``bank`` salary can only leave its held account by the bank transfer file (``transferred``)
  and a ``pay_point`` salary only by a release. CHECKs refuse a released bank salary and a
  transferred pay-point one, so no salary can be paid both ways.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from palmvein.core.db import Base, UtcDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class RunStatus(StrEnum):
    OPEN = "open"
    COMPUTED = "computed"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    POSTING = "posting"
    POSTED = "posted"
    CANCELLED = "cancelled"


class PaymentStatus(StrEnum):
    HELD = "held"  # net pay booked to the employee's net-pay account, waiting for release
    RELEASED = "released"  # handed over at a pay point (wallet or cash)
    TRANSFERRED = "transferred"  # sent by the bank transfer file; booked to bank clearing
    REVERSED = "reversed"  # the run was cancelled; reversed by new ledger entries


class PayChannel(StrEnum):
    """How a posted salary reaches its employee, fixed at posting from the employee's account."""

    BANK = "bank"  # the employee has a bank or postal account: the bank transfer file pays
    PAY_POINT = "pay_point"  # no account: released by palm (or a supervisor) at the pay point


class ReleaseChannel(StrEnum):
    WALLET = "wallet"
    CASH = "cash"


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Employee(Base):
    __tablename__ = "payroll_employees"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended', 'left')", name="known_status"),
        CheckConstraint(
            "(account_scheme IS NULL) = (account_number IS NULL)", name="account_complete"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    employee_number: Mapped[str] = mapped_column(String(40), unique=True)
    name_latin: Mapped[str] = mapped_column(String(200))
    name_arabic: Mapped[str] = mapped_column(String(200))
    national_id: Mapped[str] = mapped_column(String(20), index=True)
    unit: Mapped[str] = mapped_column(String(200))
    grade: Mapped[str] = mapped_column(String(40))
    pay_point: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(10))
    account_scheme: Mapped[str | None] = mapped_column(String(10))
    account_number: Mapped[str | None] = mapped_column(String(40))
    # The enrolled palm owner (matcher subject id); several employees on one palm is what the
    # duplicate-identity report looks for, so this is deliberately not unique.
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("bio_persons.id"), index=True)
    base_salary: Mapped[int | None] = mapped_column(BigInteger())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Loan(Base):
    __tablename__ = "payroll_loans"
    __table_args__ = (
        UniqueConstraint("employee_id", "reference"),
        CheckConstraint("instalment > 0", name="instalment_positive"),
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("payroll_employees.id"))
    reference: Mapped[str] = mapped_column(String(40))
    instalment: Mapped[int] = mapped_column(BigInteger())
    remaining: Mapped[int] = mapped_column(BigInteger())


class SalaryStructure(Base):
    """The components of a grade's pay, in force from ``effective_from`` until a later row."""

    __tablename__ = "payroll_structures"
    __table_args__ = (UniqueConstraint("grade", "effective_from"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    grade: Mapped[str] = mapped_column(String(40))
    effective_from: Mapped[date] = mapped_column(Date())
    currency: Mapped[str] = mapped_column(CHAR(3))
    definition: Mapped[str] = mapped_column(Text())  # JSON, see payroll.structures
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PayrollRun(Base):
    __tablename__ = "payroll_runs"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(RunStatus)})", name="known_status"),
        CheckConstraint("approved_by IS NULL OR approved_by <> submitted_by", name="four_eyes"),
        Index("ix_payroll_runs_period", "period"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    currency: Mapped[str] = mapped_column(CHAR(3))
    status: Mapped[str] = mapped_column(String(10))
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    computed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    posted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(String(500))


class Payslip(Base):
    """One employee's computed pay in a run (the preview), with the problems found for them."""

    __tablename__ = "payroll_payslips"
    __table_args__ = (UniqueConstraint("run_id", "employee_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payroll_runs.id"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("payroll_employees.id"), index=True)
    gross: Mapped[int] = mapped_column(BigInteger())
    deductions: Mapped[int] = mapped_column(BigInteger())
    employer_contributions: Mapped[int] = mapped_column(BigInteger())
    net: Mapped[int] = mapped_column(BigInteger())
    lines: Mapped[str] = mapped_column(Text())  # JSON list of payslip lines
    problems: Mapped[str] = mapped_column(Text())  # JSON list of {"kind", "message"}
    # False when a problem keeps this employee out of posting (suspended, negative net, ...).
    payable: Mapped[bool] = mapped_column(Boolean())


class Payment(Base):
    """Net pay booked for one employee in one run: the posting marker and what release pays."""

    __tablename__ = "payroll_payments"
    __table_args__ = (
        UniqueConstraint("run_id", "employee_id"),
        CheckConstraint(f"status IN ({_in(PaymentStatus)})", name="known_status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(f"channel IN ({_in(PayChannel)})", name="known_channel"),
        CheckConstraint(
            "status <> 'released' OR channel = 'pay_point'", name="released_at_pay_point"
        ),
        CheckConstraint(
            "status <> 'transferred' OR (channel = 'bank' AND transfer_transaction_id IS NOT NULL"
            " AND transferred_at IS NOT NULL AND transferred_by IS NOT NULL)",
            name="transferred_by_bank",
        ),
        Index(
            "uq_payroll_payments_employee_period_live",
            "employee_id",
            "period",
            unique=True,
            postgresql_where=text("status <> 'reversed'"),
            sqlite_where=text("status <> 'reversed'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payroll_runs.id"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("payroll_employees.id"))
    period: Mapped[str] = mapped_column(String(7))
    currency: Mapped[str] = mapped_column(CHAR(3))
    amount: Mapped[int] = mapped_column(BigInteger())
    net_account_id: Mapped[int] = mapped_column(ForeignKey("pay_accounts.id"))
    transaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pay_transactions.id"))
    status: Mapped[str] = mapped_column(String(12))
    channel: Mapped[str] = mapped_column(String(10))  # PayChannel
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Set once, when the bank transfer file books this salary to the bank clearing account.
    transfer_transaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("pay_transactions.id")
    )
    transferred_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    transferred_by: Mapped[str | None] = mapped_column(String(200))
    transfer_reference: Mapped[str | None] = mapped_column(String(35))  # the pain.001 MsgId
    reversal_transaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("pay_transactions.id")
    )
    reversed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Release(Base):
    """A held salary handed to its employee: to the wallet, or in cash by the pay point."""

    __tablename__ = "payroll_releases"
    __table_args__ = (
        CheckConstraint(f"channel IN ({_in(ReleaseChannel)})", name="known_channel"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payroll_releases_employee_id_released_at", "employee_id", "released_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payroll_payments.id"), unique=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("payroll_employees.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("payroll_runs.id"))
    amount: Mapped[int] = mapped_column(BigInteger())
    currency: Mapped[str] = mapped_column(CHAR(3))
    released_at: Mapped[datetime] = mapped_column(UtcDateTime())
    channel: Mapped[str] = mapped_column(String(10))
    device_id: Mapped[str | None] = mapped_column(String(100))
    released_by: Mapped[str] = mapped_column(String(200))
    supervisor_override_reason: Mapped[str | None] = mapped_column(String(500))
    transaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pay_transactions.id"))


class AttemptOutcome(StrEnum):
    RELEASED = "released"
    NO_MATCH = "no_match"
    AMBIGUOUS = "ambiguous"
    WRONG_PERSON = "wrong_person"
    NOT_ENROLLED = "not_enrolled"
    NOTHING_HELD = "nothing_held"
    WRONG_PAY_POINT = "wrong_pay_point"
    PAID_BY_BANK = "paid_by_bank"  # the salary is paid by the bank transfer file, not here


class ReleaseAttempt(Base):
    """Every palm presented at a pay point to claim a salary, matched or not.

    Failed attempts are the evidence a supervisor's manual release rests on, and what an auditor
    reads to see who keeps failing (or who keeps trying someone else's salary).
    """

    __tablename__ = "payroll_release_attempts"
    __table_args__ = (
        CheckConstraint(f"outcome IN ({_in(AttemptOutcome)})", name="known_outcome"),
        Index("ix_payroll_release_attempts_claimed_at", "claimed_employee_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    device_id: Mapped[str] = mapped_column(String(100))
    pay_point: Mapped[str] = mapped_column(String(40))
    cashier: Mapped[str] = mapped_column(String(200))
    claimed_employee_id: Mapped[int | None] = mapped_column(ForeignKey("payroll_employees.id"))
    matched_subject_id: Mapped[str | None] = mapped_column(String(36))
    outcome: Mapped[str] = mapped_column(String(20))
    # Scores as text with fixed decimals, like the audit log: exact to read back, no float drift.
    score: Mapped[str | None] = mapped_column(String(12))
    threshold: Mapped[str | None] = mapped_column(String(12))
    releases: Mapped[int] = mapped_column(Integer())
