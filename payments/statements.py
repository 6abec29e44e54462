"""Statements: a merchant's business day (sales, voids, refunds, fees, net) and a wallet's
movements with running balance, as data and as CSV.

Amounts come from the ledger's postings, not from the operations' own fields, so a statement
shows exactly what was booked.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from palmvein.core.errors import ValidationFailed
from palmvein.core.money import Money
from payments import ledger
from payments.errors import AccountNotFound
from payments.models import (
    Account,
    AccountKind,
    LedgerTransaction,
    Operation,
    OperationStatus,
    OperationType,
    Posting,
)
from payments.policy import PaymentsPolicy

_MERCHANT_DEBITS = (OperationType.VOID.value, OperationType.REFUND.value)


def _text_cell(value: str) -> str:
    # A cell starting with = + - @ is a formula to spreadsheet programs (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@dataclass(frozen=True)
class MerchantLine:
    at: datetime
    operation_id: uuid.UUID
    type: str
    client_reference: str | None
    gross: Money  # the sale (+) or what was given back (-)
    fee: Money  # fee charged (-) or returned (+)
    net: Money  # what the merchant's account moved: gross + fee


@dataclass(frozen=True)
class MerchantStatement:
    merchant_account_id: int
    day: date
    currency: str
    lines: list[MerchantLine]
    settled: Money  # paid out to the bank that day

    def _sum(self, kind: str | None, field: str) -> Money:
        amounts = [getattr(line, field) for line in self.lines if kind is None or line.type == kind]
        return sum(amounts, Money.zero(self.currency))

    @property
    def sales(self) -> Money:
        return self._sum(OperationType.PURCHASE.value, "gross")

    @property
    def voids(self) -> Money:
        return self._sum(OperationType.VOID.value, "gross")

    @property
    def refunds(self) -> Money:
        return self._sum(OperationType.REFUND.value, "gross")

    @property
    def fees(self) -> Money:
        return self._sum(None, "fee")

    @property
    def net(self) -> Money:
        return self._sum(None, "net")


def _local_day(policy: PaymentsPolicy, day: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(policy.business_timezone)
    return policy.business_day(datetime.combine(day, time(12), tzinfo=zone))


def _postings_by_operation(
    session: Session, operation_ids: list[uuid.UUID], account_ids: list[int]
) -> dict[uuid.UUID, int]:
    totals: dict[uuid.UUID, int] = defaultdict(int)
    if not operation_ids or not account_ids:
        return totals
    rows = session.execute(
        select(LedgerTransaction.operation_id, func.sum(Posting.amount))
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(
            LedgerTransaction.operation_id.in_(operation_ids),
            Posting.account_id.in_(account_ids),
        )
        .group_by(LedgerTransaction.operation_id)
    )
    for operation_id, total in rows:
        if operation_id is not None:
            totals[operation_id] += int(total)
    return totals


def merchant_daily_statement(
    session: Session, policy: PaymentsPolicy, *, merchant_account_id: int, day: date
) -> MerchantStatement:
    merchant = session.get(Account, merchant_account_id)
    if merchant is None or merchant.kind != AccountKind.MERCHANT.value:
        raise AccountNotFound(f"no merchant account {merchant_account_id}")
    start, end = _local_day(policy, day)
    operations = list(
        session.scalars(
            select(Operation)
            .where(
                Operation.created_at >= start,
                Operation.created_at < end,
                or_(
                    (Operation.payee_account_id == merchant.id)
                    & (Operation.type == OperationType.PURCHASE.value)
                    & Operation.status.in_(
                        (OperationStatus.COMPLETED.value, OperationStatus.VOIDED.value)
                    ),
                    (Operation.payer_account_id == merchant.id)
                    & Operation.type.in_((*_MERCHANT_DEBITS, OperationType.SETTLEMENT.value)),
                ),
            )
            .order_by(Operation.created_at, Operation.id)
        )
    )
    # At equal times a sale comes before the void or refund that undoes it.
    trading = sorted(
        (op for op in operations if op.type != OperationType.SETTLEMENT.value),
        key=lambda op: (op.created_at, op.type != OperationType.PURCHASE.value),
    )
    ids = [op.id for op in trading]
    net_by_op = _postings_by_operation(session, ids, [merchant.id])
    fee_ids = [account.id for account in ledger.fee_accounts(session, merchant.currency)]
    fees_by_op = _postings_by_operation(session, ids, fee_ids)
    zone = ZoneInfo(policy.business_timezone)
    lines = []
    for op in trading:
        sign = 1 if op.type == OperationType.PURCHASE.value else -1
        lines.append(
            MerchantLine(
                at=op.created_at.astimezone(zone),
                operation_id=op.id,
                type=op.type,
                client_reference=op.client_reference,
                gross=Money(sign * op.amount, op.currency),
                fee=Money(-fees_by_op.get(op.id, 0), op.currency),
                net=Money(net_by_op.get(op.id, 0), op.currency),
            )
        )
    settled = sum(
        (
            Money(op.amount, op.currency)
            for op in operations
            if op.type == OperationType.SETTLEMENT.value
        ),
        Money.zero(merchant.currency),
    )
    return MerchantStatement(
        merchant_account_id=merchant.id,
        day=day,
        currency=merchant.currency,
        lines=lines,
        settled=settled,
    )


def merchant_statement_csv(statement: MerchantStatement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["time", "operation_id", "type", "client_reference", "gross", "fee", "net", "currency"]
    )
    for line in statement.lines:
        writer.writerow(
            [
                line.at.isoformat(timespec="seconds"),
                str(line.operation_id),
                line.type,
                _text_cell(line.client_reference or ""),
                line.gross.to_decimal(),
                line.fee.to_decimal(),
                line.net.to_decimal(),
                statement.currency,
            ]
        )
    writer.writerow([])
    for label, amount in (
        ("sales", statement.sales),
        ("voids", statement.voids),
        ("refunds", statement.refunds),
        ("fees", statement.fees),
        ("net", statement.net),
        ("settled to bank", statement.settled),
    ):
        writer.writerow(["total", "", label, "", amount.to_decimal(), "", "", statement.currency])
    return out.getvalue()


@dataclass(frozen=True)
class WalletLine:
    at: datetime
    transaction_id: uuid.UUID
    kind: str
    description: str
    amount: Money
    balance: Money


@dataclass(frozen=True)
class WalletStatement:
    account_id: int
    start: datetime
    end: datetime
    opening: Money
    lines: list[WalletLine]

    @property
    def closing(self) -> Money:
        return self.lines[-1].balance if self.lines else self.opening


def wallet_statement(
    session: Session, *, account_id: int, start: datetime, end: datetime
) -> WalletStatement:
    """Every posting on ``account_id`` with ``start <= time < end``, with the running balance."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("statement period needs times with a UTC offset")
    account = session.get(Account, account_id)
    if account is None:
        raise AccountNotFound(f"no account {account_id}")
    opening = session.scalar(
        select(func.coalesce(func.sum(Posting.amount), 0))
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(Posting.account_id == account_id, LedgerTransaction.created_at < start)
    )
    running = int(opening or 0)
    lines = []
    rows = session.execute(
        select(
            LedgerTransaction.created_at,
            LedgerTransaction.id,
            LedgerTransaction.kind,
            LedgerTransaction.description,
            Posting.amount,
        )
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(
            Posting.account_id == account_id,
            LedgerTransaction.created_at >= start,
            LedgerTransaction.created_at < end,
        )
        .order_by(Posting.id)
    )
    for at, transaction_id, kind, description, amount in rows:
        running += int(amount)
        lines.append(
            WalletLine(
                at=at,
                transaction_id=transaction_id,
                kind=kind,
                description=description,
                amount=Money(int(amount), account.currency),
                balance=Money(running, account.currency),
            )
        )
    return WalletStatement(
        account_id=account_id,
        start=start,
        end=end,
        opening=Money(int(opening or 0), account.currency),
        lines=lines,
    )


def wallet_statement_csv(statement: WalletStatement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", "transaction_id", "kind", "description", "amount", "balance"])
    writer.writerow(
        [statement.start.isoformat(), "", "opening", "", "", statement.opening.to_decimal()]
    )
    for line in statement.lines:
        writer.writerow(
            [
                line.at.isoformat(timespec="seconds"),
                str(line.transaction_id),
                line.kind,
                _text_cell(line.description),
                line.amount.to_decimal(),
                line.balance.to_decimal(),
            ]
        )
    writer.writerow(
        [statement.end.isoformat(), "", "closing", "", "", statement.closing.to_decimal()]
    )
    return out.getvalue()
