"""Tables of the payments domain: a double-entry ledger with holds, and what sits around it.

Sign convention: a posting's ``amount`` is the signed change it makes to its account's balance
(positive adds, negative takes away). The postings of one ledger transaction sum to zero in every
currency, so money is never created or destroyed, only moved. Balances are integer minor units.

Much of what must always be true is enforced by the database itself (migration
``0200_payments``), not only by the services:

- postings and ledger transactions are append-only (UPDATE and DELETE raise);
- a transaction's postings sum to zero per currency (checked when the transaction header is
  inserted, which must come after its postings, and again at COMMIT on PostgreSQL);
- ``pay_accounts.balance`` and ``held`` are maintained by triggers from postings and holds, and a
  CHECK keeps ``balance - held >= 0`` on every account that may not go negative;
- a posting's and a hold's currency must be their account's (composite foreign key).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from palmvein.core.db import Base, UtcDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class AccountKind(StrEnum):
    WALLET = "wallet"  # a person's e-money
    MERCHANT = "merchant"  # a shop's takings, settled to its bank account
    AGENT_FLOAT = "agent_float"  # e-money an agent or post office sells and buys for cash
    BILLER = "biller"  # a utility's collections
    FEES = "fees"  # operator revenue from fees
    ISSUANCE = "issuance"  # counterpart of all e-money in circulation (goes negative)
    SETTLEMENT = "settlement"  # money leaving to (or arriving from) banks (goes negative)


class HoldStatus(StrEnum):
    PENDING = "pending"
    CAPTURED = "captured"
    VOIDED = "voided"
    EXPIRED = "expired"


class OperationType(StrEnum):
    P2P_TRANSFER = "p2p_transfer"
    BILL_PAYMENT = "bill_payment"
    CASH_IN = "cash_in"
    CASH_OUT = "cash_out"
    PURCHASE = "purchase"
    VOID = "void"
    REFUND = "refund"
    FUNDING = "funding"
    SETTLEMENT = "settlement"


class OperationStatus(StrEnum):
    AUTHORIZED = "authorized"  # funds held, not yet captured
    COMPLETED = "completed"
    VOIDED = "voided"
    EXPIRED = "expired"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # gave up after the last retry; needs a person to look


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Account(Base):
    __tablename__ = "pay_accounts"
    __table_args__ = (
        UniqueConstraint("owner_type", "owner_id", "kind", "currency"),
        # Target of the composite foreign keys that tie postings and holds to the currency.
        UniqueConstraint("id", "currency"),
        CheckConstraint(f"kind IN ({_in(AccountKind)})", name="known_kind"),
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint("may_go_negative OR balance - held >= 0", name="available_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(CHAR(3))
    may_go_negative: Mapped[bool] = mapped_column(Boolean())
    # Maintained by database triggers only: sum of postings, and sum of pending holds.
    balance: Mapped[int] = mapped_column(BigInteger(), default=0)
    held: Mapped[int] = mapped_column(BigInteger(), default=0)
    notify_phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    @property
    def available(self) -> int:
        return self.balance - self.held


class LedgerTransaction(Base):
    """Header of a balanced set of postings; inserted after them, which seals the set."""

    __tablename__ = "pay_transactions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(200))
    operation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("pay_operations.id"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class Posting(Base):
    __tablename__ = "pay_postings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["account_id", "currency"],
            ["pay_accounts.id", "pay_accounts.currency"],
            name="fk_pay_postings_account_currency",
        ),
        # Postings are written before their header; the header must exist by COMMIT.
        ForeignKeyConstraint(
            ["transaction_id"],
            ["pay_transactions.id"],
            name="fk_pay_postings_transaction_id_pay_transactions",
            deferrable=True,
            initially="DEFERRED",
        ),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index("ix_pay_postings_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid(), index=True)
    account_id: Mapped[int] = mapped_column(BigId)
    currency: Mapped[str] = mapped_column(CHAR(3))
    amount: Mapped[int] = mapped_column(BigInteger())


class Hold(Base):
    """Funds reserved on ``account_id`` for ``credit_account_id`` (a two-phase transfer)."""

    __tablename__ = "pay_holds"
    __table_args__ = (
        ForeignKeyConstraint(
            ["account_id", "currency"],
            ["pay_accounts.id", "pay_accounts.currency"],
            name="fk_pay_holds_account_currency",
        ),
        ForeignKeyConstraint(
            ["credit_account_id", "currency"],
            ["pay_accounts.id", "pay_accounts.currency"],
            name="fk_pay_holds_credit_account_currency",
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(f"status IN ({_in(HoldStatus)})", name="known_status"),
        CheckConstraint(
            "captured_amount >= 0 AND captured_amount <= amount", name="captured_within_amount"
        ),
        CheckConstraint(
            "status = 'captured' OR captured_amount = 0", name="captured_only_when_captured"
        ),
        Index("ix_pay_holds_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    account_id: Mapped[int] = mapped_column(BigId, index=True)
    credit_account_id: Mapped[int] = mapped_column(BigId)
    currency: Mapped[str] = mapped_column(CHAR(3))
    amount: Mapped[int] = mapped_column(BigInteger())
    status: Mapped[str] = mapped_column(String(10))
    captured_amount: Mapped[int] = mapped_column(BigInteger(), default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Operation(Base):
    """One customer-visible payment (a transfer, a purchase, a refund...): what the ledger
    transactions were for. Answers status queries, daily limits and statements."""

    __tablename__ = "pay_operations"
    __table_args__ = (
        UniqueConstraint("initiator", "client_reference"),
        CheckConstraint(f"type IN ({_in(OperationType)})", name="known_type"),
        CheckConstraint(f"status IN ({_in(OperationStatus)})", name="known_status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
        Index("ix_pay_operations_payer_type_created", "payer_account_id", "type", "created_at"),
        Index("ix_pay_operations_payee_created", "payee_account_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    initiator: Mapped[str] = mapped_column(String(100))
    client_reference: Mapped[str | None] = mapped_column(String(100))
    payer_account_id: Mapped[int | None] = mapped_column(ForeignKey("pay_accounts.id"))
    payee_account_id: Mapped[int | None] = mapped_column(ForeignKey("pay_accounts.id"))
    currency: Mapped[str] = mapped_column(CHAR(3))
    amount: Mapped[int] = mapped_column(BigInteger())
    fee: Mapped[int] = mapped_column(BigInteger(), default=0)
    # Refunds and voids point at the purchase they undo.
    original_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("pay_operations.id"))
    hold_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("pay_holds.id"))
    reference: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IdempotencyRecord(Base):
    """The stored response of a completed money-moving request, keyed per caller."""

    __tablename__ = "pay_idempotency_keys"

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer())
    response_body: Mapped[str] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class Biller(Base):
    __tablename__ = "pay_billers"
    __table_args__ = (
        CheckConstraint(
            "category IN ('electricity', 'gas', 'water', 'internet', 'phone')",
            name="known_category",
        ),
    )

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[int] = mapped_column(ForeignKey("pay_accounts.id"))
    # Full-match regular expression a bill reference must satisfy (e.g. ``\d{12}``).
    reference_pattern: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean(), default=True)


class OutboxMessage(Base):
    """A notification to send, written in the same transaction as the money movement."""

    __tablename__ = "pay_outbox"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(OutboxStatus)})", name="known_status"),
        Index("ix_pay_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text())
    operation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("pay_operations.id"))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer(), default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class WalletPin(Base):
    """The hashed PIN that confirms purchases above the policy's threshold."""

    __tablename__ = "pay_wallet_pins"
    __table_args__ = (CheckConstraint("failed_attempts >= 0", name="attempts_not_negative"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("pay_accounts.id"), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(200))
    failed_attempts: Mapped[int] = mapped_column(Integer(), default=0)
    locked: Mapped[bool] = mapped_column(Boolean(), default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
