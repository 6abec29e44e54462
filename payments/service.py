"""Wallet operations: cash-in and cash-out at agents, person-to-person transfers, bill payments,
purchases at merchants with void and refund, and merchant settlement.

Each operation records one :class:`~payments.models.Operation` (what the customer asked for),
books one balanced ledger transaction for it, and queues an SMS to the owner of every wallet it
debits, all in the caller's database transaction. Services flush and never commit.

Locking: the accounts of an operation are locked (ascending id) before its limits are checked,
so two concurrent cash-outs from one wallet see each other's totals and a daily cap holds
exactly, not approximately.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from palmvein.core.errors import ValidationFailed
from palmvein.core.money import Money
from payments import ledger, outbox, pgfast
from payments.errors import (
    AccountNotFound,
    BillerNotFound,
    DuplicateClientReference,
    InvalidAmount,
    InvalidBillReference,
    LimitExceeded,
    OperationNotFound,
    OperationNotReversible,
)
from payments.ledger import Leg
from payments.models import (
    Account,
    AccountKind,
    Biller,
    Hold,
    HoldStatus,
    LedgerTransaction,
    Operation,
    OperationStatus,
    OperationType,
    Posting,
)
from payments.policy import PaymentsPolicy

PHONE_PATTERN = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164
BILLER_CATEGORIES = ("electricity", "gas", "water", "internet", "phone")
_COUNTED = (OperationStatus.AUTHORIZED.value, OperationStatus.COMPLETED.value)
_OPERATION_COLUMNS = tuple(column.key for column in Operation.__table__.columns)


# -- opening accounts -------------------------------------------------------------------------


def _check_phone(phone: str) -> None:
    if not PHONE_PATTERN.fullmatch(phone):
        raise ValidationFailed(f"phone {phone!r} is not in E.164 form (+213...)")


def _open_owned_account(
    session: Session,
    *,
    owner_type: str,
    owner_id: str,
    kind: AccountKind,
    currency: str,
    now: datetime,
    phone: str | None,
) -> Account:
    if phone is not None:
        _check_phone(phone)
    return ledger.open_account(
        session,
        owner_type=owner_type,
        owner_id=owner_id,
        kind=kind,
        currency=currency,
        now=now,
        notify_phone=phone,
    )


def open_wallet(
    session: Session, *, person_id: str, currency: str, phone: str, now: datetime
) -> Account:
    """A person's wallet; ``phone`` receives an SMS for every debit."""
    return _open_owned_account(
        session,
        owner_type="person",
        owner_id=person_id,
        kind=AccountKind.WALLET,
        currency=currency,
        now=now,
        phone=phone,
    )


def open_merchant_account(
    session: Session, *, merchant_id: str, currency: str, now: datetime, phone: str | None = None
) -> Account:
    return _open_owned_account(
        session,
        owner_type="merchant",
        owner_id=merchant_id,
        kind=AccountKind.MERCHANT,
        currency=currency,
        now=now,
        phone=phone,
    )


def open_agent_account(
    session: Session, *, agent_id: str, currency: str, now: datetime, phone: str | None = None
) -> Account:
    """E-money float of an agent or post office, which sells and buys e-money for cash."""
    return _open_owned_account(
        session,
        owner_type="agent",
        owner_id=agent_id,
        kind=AccountKind.AGENT_FLOAT,
        currency=currency,
        now=now,
        phone=phone,
    )


def register_biller(
    session: Session,
    *,
    code: str,
    name: str,
    category: str,
    currency: str,
    reference_pattern: str,
    now: datetime,
) -> Biller:
    if category not in BILLER_CATEGORIES:
        raise ValidationFailed(
            f"biller category must be one of {', '.join(BILLER_CATEGORIES)}, got {category!r}"
        )
    re.compile(reference_pattern)
    account = ledger.open_account(
        session,
        owner_type="biller",
        owner_id=code,
        kind=AccountKind.BILLER,
        currency=currency,
        now=now,
    )
    biller = Biller(
        code=code,
        name=name,
        category=category,
        account_id=account.id,
        reference_pattern=reference_pattern,
        active=True,
    )
    session.add(biller)
    session.flush()
    return biller


# -- queries ----------------------------------------------------------------------------------


def get_operation(session: Session, operation_id: uuid.UUID) -> Operation:
    operation = session.get(Operation, operation_id)
    if operation is None:
        raise OperationNotFound(f"no operation {operation_id}")
    return operation


def operation_by_client_reference(
    session: Session, *, initiator: str, client_reference: str
) -> Operation:
    """Answer "what happened to my request?" after a lost response."""
    operation = session.scalars(
        select(Operation).where(
            Operation.initiator == initiator, Operation.client_reference == client_reference
        )
    ).one_or_none()
    if operation is None:
        raise OperationNotFound(
            f"no operation with client reference {client_reference!r}: nothing was booked"
        )
    return operation


def _account_of(session: Session, account_id: int, kind: AccountKind, role: str) -> Account:
    account = session.get(Account, account_id)
    if account is None or account.kind != kind.value:
        raise AccountNotFound(f"no {kind.value} account {account_id} ({role})")
    return account


# -- the common path --------------------------------------------------------------------------


def _check_reference_free(session: Session, initiator: str, client_reference: str | None) -> None:
    if client_reference is None:
        return
    taken = session.scalar(
        select(Operation.id).where(
            Operation.initiator == initiator, Operation.client_reference == client_reference
        )
    )
    if taken is not None:
        raise DuplicateClientReference(
            f"client reference {client_reference!r} was already used for operation {taken}"
        )


# Built once: constructing and cache-keying the statement cost as much client CPU as running it.
_SPENT_WHERE = (
    Operation.payer_account_id == bindparam("payer_id"),
    Operation.type == bindparam("type"),
    Operation.created_at >= bindparam("start", type_=Operation.created_at.type),
    Operation.created_at < bindparam("end", type_=Operation.created_at.type),
)
_SPENT = pgfast.Statement(
    select(func.coalesce(func.sum(Operation.amount), 0)).where(
        *_SPENT_WHERE,
        Operation.status == any_(bindparam("counted", list(_COUNTED), type_=ARRAY(String()))),
    ),
    elsewhere=select(func.coalesce(func.sum(Operation.amount), 0)).where(
        *_SPENT_WHERE, Operation.status.in_(_COUNTED)
    ),
)


def _spent_query(
    policy: PaymentsPolicy, *, payer_id: int, operation: OperationType, now: datetime
) -> tuple[pgfast.Statement, dict[str, Any]]:
    start, end = policy.business_day(now)
    return _SPENT, {"payer_id": payer_id, "type": operation.value, "start": start, "end": end}


def _needs_daily_total(policy: PaymentsPolicy, operation: OperationType, currency: str) -> bool:
    """Whether a daily limit or cap applies, so the day's total must be read under the lock."""
    return policy.limit_for(operation, currency).per_day is not None or (
        operation is OperationType.CASH_OUT and currency in policy.cash_out_daily_cap
    )


def _spent_today(
    session: Session,
    policy: PaymentsPolicy,
    *,
    payer_id: int,
    operation: OperationType,
    now: datetime,
) -> int:
    query = _spent_query(policy, payer_id=payer_id, operation=operation, now=now)
    (((total,),),) = pgfast.fetch(session, query)
    return int(total or 0)


_INSERT_OPERATION = pgfast.Insert(Operation.__table__, _OPERATION_COLUMNS)


def _insert_operation(
    session: Session, operation: Operation, writes: pgfast.Writes | None = None
) -> None:
    """INSERT the operation (or queue it in ``writes``) and attach it to the session as
    persistent.

    The unique (initiator, client_reference) can fail when the INSERT runs: a concurrent request
    with the same reference committed between our check and our insert (:func:`_send` says so).
    """
    with pgfast.batch(session, writes, _send) as buffer:
        buffer.add(
            _INSERT_OPERATION,
            [{column: getattr(operation, column) for column in _OPERATION_COLUMNS}],
        )
    ledger.attach(session, operation)


def _send(session: Session, writes: pgfast.Writes) -> None:
    try:
        writes.send(session)
    except IntegrityError as exc:
        if pgfast.violated_table(exc) != Operation.__tablename__:
            raise
        raise DuplicateClientReference("client reference was used concurrently") from None


def _check_limits(
    session: Session,
    policy: PaymentsPolicy,
    *,
    payer: Account | ledger.LockedAccount,
    operation: OperationType,
    amount: Money,
    now: datetime,
    spent: int | None = None,
) -> None:
    """Refuse ``amount`` above the per-transaction limit or past a daily limit or cap.
    ``spent``: the day's total if the caller read it under the payer's lock already."""
    limit = policy.limit_for(operation, amount.currency)
    if limit.per_transaction is not None and amount.minor > limit.per_transaction:
        raise LimitExceeded(
            f"{operation.value} of {amount} is above the per-transaction limit of "
            f"{Money(limit.per_transaction, amount.currency)}"
        )
    caps: list[tuple[int, str]] = []
    if limit.per_day is not None:
        caps.append((limit.per_day, "daily limit"))
    if operation is OperationType.CASH_OUT and amount.currency in policy.cash_out_daily_cap:
        caps.append((policy.cash_out_daily_cap[amount.currency], "daily cash-out cap"))
    if not caps:
        return
    if spent is None:
        spent = _spent_today(session, policy, payer_id=payer.id, operation=operation, now=now)
    for cap, name in caps:
        if spent + amount.minor > cap:
            raise LimitExceeded(
                f"{operation.value} of {amount} would pass the {name} of "
                f"{Money(cap, amount.currency)}: {Money(spent, amount.currency)} already today"
            )


def _debit_sms(
    account: Account | ledger.LockedAccount, operation: Operation, available: Money
) -> tuple[str, str] | None:
    if account.notify_phone is None:
        return None
    debited = Money(operation.amount, operation.currency)
    fee_text = ""
    # The merchant, not the shopper, pays a purchase's fee.
    payer_paid_fee = operation.type != OperationType.PURCHASE.value
    if operation.fee and payer_paid_fee and account.id == operation.payer_account_id:
        fee_text = f" + fee {Money(operation.fee, operation.currency)}"
    what = operation.type.replace("_", " ")
    return account.notify_phone, (
        f"palmvein: {what} {debited}{fee_text} debited. "
        f"Available: {available}. Ref {str(operation.id)[:8]}"
    )


def _credit_sms(
    account: Account | ledger.LockedAccount, operation: Operation, amount: Money
) -> tuple[str, str] | None:
    if account.notify_phone is None:
        return None
    return account.notify_phone, (
        f"palmvein: {amount} received ({operation.type.replace('_', ' ')}). "
        f"Ref {str(operation.id)[:8]}"
    )


def _notify(
    session: Session,
    operation: Operation,
    now: datetime,
    *messages: tuple[str, str] | None,
    writes: pgfast.Writes | None = None,
) -> None:
    outbox.enqueue_many(
        session,
        [m for m in messages if m is not None],
        now=now,
        operation_id=operation.id,
        writes=writes,
    )


def _notify_debit(session: Session, account: Account, operation: Operation, now: datetime) -> None:
    if account.notify_phone is None:
        return
    available = ledger.balance_of(session, account.id).available
    _notify(session, operation, now, _debit_sms(account, operation, available))


def _notify_credit(
    session: Session, account: Account, operation: Operation, amount: Money, now: datetime
) -> None:
    _notify(session, operation, now, _credit_sms(account, operation, amount))


def _book(
    session: Session,
    policy: PaymentsPolicy,
    *,
    operation_type: OperationType,
    payer_id: int,
    payee_id: int,
    amount: Money,
    fee: Money,
    legs: Sequence[Leg],
    initiator: str,
    client_reference: str | None,
    now: datetime,
    reference: str | None = None,
    original_id: uuid.UUID | None = None,
    check_limits: bool = True,
    expect: Mapping[int, tuple[AccountKind, str]] | None = None,
    fee_to_operator: bool = False,
    writes: pgfast.Writes | None = None,
) -> tuple[Operation, dict[int, ledger.LockedAccount]]:
    """Record the operation and post its ledger transaction; returns it with the accounts as
    locked (balances from before the posting).

    All accounts are locked in one statement (ascending id) before anything is checked against
    them. ``expect`` maps account ids to the kind they must be (and the role named if not);
    ``fee_to_operator`` appends a leg crediting ``fee`` to the payer's fee account, which is
    found and locked in the same statement. The operation, postings and header are INSERTed
    together after the reads (one round trip on PostgreSQL), or left in ``writes`` for the
    caller to send.
    """
    ledger.check_amount(amount)
    _check_reference_free(session, initiator, client_reference)
    ids = {payer_id, payee_id, *(leg.account_id for leg in legs)}
    # The day's total, when a limit needs it, is read right after the lock statement (same
    # pipeline on PostgreSQL, its own snapshot): it sees every payment the lock waited for.
    daily = check_limits and _needs_daily_total(policy, operation_type, amount.currency)
    locked = ledger.lock(
        session,
        ids,
        fees_in=amount.currency if fee_to_operator else None,
        spread_by=payer_id,
        now=now,
        then=(
            _spent_query(policy, payer_id=payer_id, operation=operation_type, now=now)
            if daily
            else None
        ),
    )
    accounts = locked.accounts
    for account_id, (kind, role) in (expect or {}).items():
        found = accounts.get(account_id)
        if found is None or found.kind != kind.value:
            raise AccountNotFound(f"no {kind.value} account {account_id} ({role})")
    missing = sorted(ids - set(accounts))
    if missing:
        raise AccountNotFound(f"no account {', '.join(map(str, missing))}")
    payer, payee = accounts[payer_id], accounts[payee_id]
    for account in (payer, payee):
        if account.currency != amount.currency:
            raise InvalidAmount(f"account {account.id} holds {account.currency}, not {amount}")
    if payer.id == payee.id:
        raise InvalidAmount(f"account {payer.id} cannot pay itself")
    if locked.fees is not None:
        accounts[locked.fees.id] = locked.fees
        legs = [*legs, Leg(locked.fees.id, fee)]
    if check_limits:
        _check_limits(
            session,
            policy,
            payer=payer,
            operation=operation_type,
            amount=amount,
            now=now,
            spent=int(locked.then[0][0] or 0) if locked.then else None,
        )
    operation = Operation(
        id=uuid.uuid4(),
        type=operation_type.value,
        status=OperationStatus.COMPLETED.value,
        initiator=initiator,
        client_reference=client_reference,
        payer_account_id=payer.id,
        payee_account_id=payee.id,
        currency=amount.currency,
        amount=amount.minor,
        fee=fee.minor,
        original_id=original_id,
        hold_id=None,
        reference=reference,
        created_at=now,
        updated_at=now,
    )
    with pgfast.batch(session, writes, _send) as buffer:
        _insert_operation(session, operation, buffer)
        ledger.post(
            session,
            legs,
            kind=operation_type.value,
            description=f"{operation_type.value} {amount}"
            + (f" ref {reference}" if reference else ""),
            now=now,
            operation_id=operation.id,
            locked=accounts,
            writes=buffer,
        )
    return operation, accounts


def _payer_pays_fee(
    session: Session,
    policy: PaymentsPolicy,
    *,
    operation_type: OperationType,
    payer: tuple[int, AccountKind, str],
    payee: tuple[int, AccountKind, str],
    amount: Money,
    initiator: str,
    client_reference: str | None,
    now: datetime,
    reference: str | None = None,
) -> Operation:
    """Book a payment whose payer also pays the fee; ``payer`` and ``payee`` are (account id,
    the kind it must be, its role in error messages)."""
    ledger.check_amount(amount)
    fee = policy.fee_for(operation_type, amount)
    payer_id, payee_id = payer[0], payee[0]
    # The operation, its postings and SMS go in one batch after the reads; inside
    # run_idempotent's open buffer they go with the stored response too.
    with pgfast.batch(session, pgfast.open_writes(session), _send) as writes:
        operation, accounts = _book(
            session,
            policy,
            operation_type=operation_type,
            payer_id=payer_id,
            payee_id=payee_id,
            amount=amount,
            fee=fee,
            legs=[Leg(payer_id, -(amount + fee)), Leg(payee_id, amount)],
            initiator=initiator,
            client_reference=client_reference,
            now=now,
            reference=reference,
            expect={payer_id: payer[1:], payee_id: payee[1:]},
            fee_to_operator=bool(fee.minor),
            writes=writes,
        )
        # The payer's row is locked: what it has now is what it had less what this debited.
        available = Money(accounts[payer_id].available, amount.currency) - amount - fee
        _notify(
            session,
            operation,
            now,
            _debit_sms(accounts[payer_id], operation, available),
            _credit_sms(accounts[payee_id], operation, amount),
            writes=writes,
        )
    return operation


# -- wallet operations ------------------------------------------------------------------------


def fund_agent(
    session: Session,
    policy: PaymentsPolicy,
    *,
    agent_account_id: int,
    amount: Money,
    initiator: str,
    now: datetime,
    client_reference: str | None = None,
) -> Operation:
    """Issue e-money to an agent's float (the agent paid the operator in cash or by bank)."""
    issuance = ledger.system_account(session, AccountKind.ISSUANCE, amount.currency, now)
    operation, _ = _book(
        session,
        policy,
        operation_type=OperationType.FUNDING,
        payer_id=issuance.id,
        payee_id=agent_account_id,
        amount=amount,
        fee=Money.zero(amount.currency),
        legs=[Leg(issuance.id, -amount), Leg(agent_account_id, amount)],
        initiator=initiator,
        client_reference=client_reference,
        now=now,
        check_limits=False,
        expect={agent_account_id: (AccountKind.AGENT_FLOAT, "agent")},
    )
    return operation


def cash_in(
    session: Session,
    policy: PaymentsPolicy,
    *,
    agent_account_id: int,
    wallet_account_id: int,
    amount: Money,
    initiator: str,
    now: datetime,
    client_reference: str | None = None,
) -> Operation:
    """The person hands cash to the agent; the agent's float pays the person's wallet."""
    return _payer_pays_fee(
        session,
        policy,
        operation_type=OperationType.CASH_IN,
        payer=(agent_account_id, AccountKind.AGENT_FLOAT, "agent"),
        payee=(wallet_account_id, AccountKind.WALLET, "wallet"),
        amount=amount,
        initiator=initiator,
        client_reference=client_reference,
        now=now,
    )


def cash_out(
    session: Session,
    policy: PaymentsPolicy,
    *,
    wallet_account_id: int,
    agent_account_id: int,
    amount: Money,
    initiator: str,
    now: datetime,
    client_reference: str | None = None,
) -> Operation:
    """The wallet pays the agent's float; the agent hands cash to the person.

    Capped per person and business day (``policy.cash_out_daily_cap``).
    """
    return _payer_pays_fee(
        session,
        policy,
        operation_type=OperationType.CASH_OUT,
        payer=(wallet_account_id, AccountKind.WALLET, "wallet"),
        payee=(agent_account_id, AccountKind.AGENT_FLOAT, "agent"),
        amount=amount,
        initiator=initiator,
        client_reference=client_reference,
        now=now,
    )


def transfer_p2p(
    session: Session,
    policy: PaymentsPolicy,
    *,
    from_wallet_id: int,
    to_wallet_id: int,
    amount: Money,
    initiator: str,
    now: datetime,
    client_reference: str | None = None,
) -> Operation:
    return _payer_pays_fee(
        session,
        policy,
        operation_type=OperationType.P2P_TRANSFER,
        payer=(from_wallet_id, AccountKind.WALLET, "payer"),
        payee=(to_wallet_id, AccountKind.WALLET, "payee"),
        amount=amount,
        initiator=initiator,
        client_reference=client_reference,
        now=now,
    )


def pay_bill(
    session: Session,
    policy: PaymentsPolicy,
    *,
    wallet_account_id: int,
    biller_code: str,
    bill_reference: str,
    amount: Money,
    initiator: str,
    now: datetime,
    client_reference: str | None = None,
) -> Operation:
    biller = session.get(Biller, biller_code)
    if biller is None or not biller.active:
        raise BillerNotFound(f"no active biller {biller_code!r}")
    if not re.fullmatch(biller.reference_pattern, bill_reference):
        raise InvalidBillReference(
            f"{bill_reference!r} is not a valid {biller.name} bill reference"
        )
    return _payer_pays_fee(
        session,
        policy,
        operation_type=OperationType.BILL_PAYMENT,
        payer=(wallet_account_id, AccountKind.WALLET, "wallet"),
        payee=(biller.account_id, AccountKind.BILLER, "biller"),
        amount=amount,
        initiator=initiator,
        client_reference=client_reference,
        now=now,
        reference=f"{biller.code}:{bill_reference}",
    )


# -- purchases at merchants -------------------------------------------------------------------


def purchase(
    session: Session,
    policy: PaymentsPolicy,
    *,
    payer_wallet_id: int,
    merchant_account_id: int,
    amount: Money,
    initiator: str,
    now: datetime,
    client_reference: str | None = None,
) -> Operation:
    """Hold the payer's funds and capture them at once; the merchant pays the purchase fee.

    The hold and the capture are separate ledger steps (as for a card authorisation) in one
    database transaction: a terminal that needs them apart uses :func:`authorize_purchase` and
    :func:`capture_purchase`. Here the three accounts (payer, merchant, fee) are locked once,
    and the hold and the operation, which this transaction has just written and no other can
    see, are captured without locking them again.
    """
    fee = policy.fee_for(OperationType.PURCHASE, amount)
    operation, hold, locked = _authorize(
        session,
        policy,
        payer_wallet_id=payer_wallet_id,
        merchant_account_id=merchant_account_id,
        amount=amount,
        initiator=initiator,
        now=now,
        client_reference=client_reference,
        with_fee_account=bool(fee.minor),
    )
    # The rows were read before the hold was placed: once it is released they are as read.
    return _capture(session, policy, operation, hold, now=now, released=locked)


def authorize_purchase(
    session: Session,
    policy: PaymentsPolicy,
    *,
    payer_wallet_id: int,
    merchant_account_id: int,
    amount: Money,
    initiator: str,
    now: datetime,
    client_reference: str | None = None,
) -> Operation:
    operation, _, _ = _authorize(
        session,
        policy,
        payer_wallet_id=payer_wallet_id,
        merchant_account_id=merchant_account_id,
        amount=amount,
        initiator=initiator,
        now=now,
        client_reference=client_reference,
    )
    return operation


def _authorize(
    session: Session,
    policy: PaymentsPolicy,
    *,
    payer_wallet_id: int,
    merchant_account_id: int,
    amount: Money,
    initiator: str,
    now: datetime,
    client_reference: str | None,
    with_fee_account: bool = False,
) -> tuple[Operation, Hold, ledger.Locked]:
    ledger.check_amount(amount)
    locked = ledger.lock(
        session,
        (payer_wallet_id, merchant_account_id),
        fees_in=amount.currency if with_fee_account else None,
        spread_by=payer_wallet_id,
        now=now,
    )
    accounts = locked.accounts
    for account_id, kind, role in (
        (payer_wallet_id, AccountKind.WALLET, "payer"),
        (merchant_account_id, AccountKind.MERCHANT, "merchant"),
    ):
        found = accounts.get(account_id)
        if found is None or found.kind != kind.value:
            raise AccountNotFound(f"no {kind.value} account {account_id} ({role})")
    payer, merchant = accounts[payer_wallet_id], accounts[merchant_account_id]
    for account in (payer, merchant):
        if account.currency != amount.currency:
            raise InvalidAmount(f"account {account.id} holds {account.currency}, not {amount}")
    _check_reference_free(session, initiator, client_reference)
    _check_limits(
        session, policy, payer=payer, operation=OperationType.PURCHASE, amount=amount, now=now
    )
    hold = ledger.place_hold(
        session,
        account_id=payer.id,
        credit_account_id=merchant.id,
        amount=amount,
        expires_at=now + policy.hold_lifetime,
        now=now,
        locked=accounts,
    )
    operation = Operation(
        id=uuid.uuid4(),
        type=OperationType.PURCHASE.value,
        status=OperationStatus.AUTHORIZED.value,
        initiator=initiator,
        client_reference=client_reference,
        payer_account_id=payer.id,
        payee_account_id=merchant.id,
        currency=amount.currency,
        amount=amount.minor,
        fee=0,
        original_id=None,
        hold_id=hold.id,
        reference=None,
        created_at=now,
        updated_at=now,
    )
    _insert_operation(session, operation)
    return operation, hold, locked


def _lock_operation(session: Session, operation_id: uuid.UUID) -> Operation:
    operation = session.scalars(
        select(Operation)
        .where(Operation.id == operation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if operation is None:
        raise OperationNotFound(f"no operation {operation_id}")
    return operation


def capture_purchase(
    session: Session,
    policy: PaymentsPolicy,
    *,
    operation_id: uuid.UUID,
    now: datetime,
    amount: Money | None = None,
) -> Operation:
    """Capture an authorised purchase in full or in part; the rest of the hold is released."""
    operation = _lock_operation(session, operation_id)
    if operation.type != OperationType.PURCHASE.value or operation.hold_id is None:
        raise OperationNotReversible(f"operation {operation_id} is not a purchase")
    if operation.status != OperationStatus.AUTHORIZED.value:
        raise OperationNotReversible(f"purchase {operation_id} is {operation.status}")
    hold = ledger.lock_pending_hold(session, operation.hold_id, now)
    return _capture(session, policy, operation, hold, now=now, amount=amount)


def _capture(
    session: Session,
    policy: PaymentsPolicy,
    operation: Operation,
    hold: Hold,
    *,
    now: datetime,
    amount: Money | None = None,
    released: ledger.Locked | None = None,
) -> Operation:
    """Capture ``operation``'s pending ``hold``, both locked by the caller (or written by it)."""
    captured = amount if amount is not None else Money(operation.amount, operation.currency)
    fee = policy.fee_for(OperationType.PURCHASE, captured)
    assert operation.payee_account_id is not None and operation.payer_account_id is not None
    _, accounts = ledger.capture_pending_hold(
        session,
        hold,
        amount=captured,
        now=now,
        kind=OperationType.PURCHASE.value,
        description=f"purchase {captured}",
        extra_legs=[Leg(operation.payee_account_id, -fee)] if fee.minor else [],
        operator_fee=fee if fee.minor else None,
        operation_id=operation.id,
        released=released,
    )
    operation.amount = captured.minor
    operation.fee = fee.minor
    operation.status = OperationStatus.COMPLETED.value
    operation.updated_at = now
    session.flush()
    # The payer's row is locked: what it has now is what it had (hold released) less the capture.
    payer = accounts[operation.payer_account_id]
    available = Money(payer.available, captured.currency) - captured
    _notify(session, operation, now, _debit_sms(payer, operation, available))
    return operation


def _last_settlement(session: Session, merchant_id: int) -> datetime | None:
    return session.scalar(
        select(func.max(Operation.created_at)).where(
            Operation.type == OperationType.SETTLEMENT.value,
            Operation.payer_account_id == merchant_id,
        )
    )


def void_purchase(
    session: Session,
    policy: PaymentsPolicy,
    *,
    operation_id: uuid.UUID,
    initiator: str,
    now: datetime,
    client_reference: str | None = None,
) -> Operation:
    """Cancel a purchase on its business day, before the merchant's next settlement.

    An authorised purchase just releases its hold; a captured one is reversed in full, the
    merchant's fee included.
    """
    original = _lock_operation(session, operation_id)
    if original.type != OperationType.PURCHASE.value:
        raise OperationNotReversible(f"operation {operation_id} is not a purchase")
    if original.status not in _COUNTED:
        raise OperationNotReversible(f"purchase {operation_id} is already {original.status}")
    if policy.business_day(original.created_at) != policy.business_day(now):
        raise OperationNotReversible(
            f"purchase {operation_id} was made on another business day; refund it instead"
        )
    assert original.payer_account_id is not None and original.payee_account_id is not None
    settled = _last_settlement(session, original.payee_account_id)
    if settled is not None and settled >= original.created_at:
        raise OperationNotReversible(
            f"purchase {operation_id} was already settled to the merchant; refund it instead"
        )
    refunded = _refunded_total(session, original.id)
    if refunded:
        raise OperationNotReversible(
            f"purchase {operation_id} was partly refunded; refund the rest"
        )
    payer = session.get(Account, original.payer_account_id)
    merchant = session.get(Account, original.payee_account_id)
    assert payer is not None and merchant is not None
    amount = Money(original.amount, original.currency)
    if original.status == OperationStatus.AUTHORIZED.value:
        assert original.hold_id is not None
        _check_reference_free(session, initiator, client_reference)
        ledger.void_hold(session, original.hold_id, now=now)
        void = Operation(
            id=uuid.uuid4(),
            type=OperationType.VOID.value,
            status=OperationStatus.COMPLETED.value,
            initiator=initiator,
            client_reference=client_reference,
            payer_account_id=merchant.id,
            payee_account_id=payer.id,
            currency=amount.currency,
            amount=amount.minor,
            fee=0,
            original_id=original.id,
            created_at=now,
            updated_at=now,
        )
        _insert_operation(session, void)
    else:
        fee = Money(original.fee, original.currency)
        legs = [Leg(merchant.id, -(amount - fee)), Leg(payer.id, amount)]
        if fee.minor:
            legs.append(Leg(_fee_account_of(session, original.id), -fee))
        void, _ = _book(
            session,
            policy,
            operation_type=OperationType.VOID,
            payer_id=merchant.id,
            payee_id=payer.id,
            amount=amount,
            fee=Money.zero(amount.currency),
            legs=legs,
            initiator=initiator,
            client_reference=client_reference,
            now=now,
            original_id=original.id,
            check_limits=False,
        )
        _notify_debit(session, merchant, void, now)
    original.status = OperationStatus.VOIDED.value
    original.updated_at = now
    session.flush()
    _notify_credit(session, payer, void, amount, now)
    return void


def _fee_account_of(session: Session, operation_id: uuid.UUID) -> int:
    """The fee account that ``operation``'s fee was credited to (reversals debit the same one)."""
    account_id = session.scalar(
        select(Posting.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .join(Account, Account.id == Posting.account_id)
        .where(
            LedgerTransaction.operation_id == operation_id,
            Account.kind == AccountKind.FEES.value,
            Posting.amount > 0,
        )
        .limit(1)
    )
    if account_id is None:
        raise OperationNotReversible(f"operation {operation_id} has no fee posting to reverse")
    return int(account_id)


def _refunded_total(session: Session, original_id: uuid.UUID) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Operation.amount), 0)).where(
            Operation.original_id == original_id,
            Operation.type == OperationType.REFUND.value,
        )
    )
    return int(total or 0)


def refund_purchase(
    session: Session,
    policy: PaymentsPolicy,
    *,
    operation_id: uuid.UUID,
    amount: Money,
    initiator: str,
    now: datetime,
    client_reference: str | None = None,
) -> Operation:
    """Give back part or all of a captured purchase; refunds never total more than the sale.

    The operator returns the merchant's fee in proportion to what is refunded (rounded down, the
    last refund takes the remainder), so a fully refunded sale costs the merchant nothing.
    """
    original = _lock_operation(session, operation_id)  # serialises refunds of one purchase
    if original.type != OperationType.PURCHASE.value:
        raise OperationNotReversible(f"operation {operation_id} is not a purchase")
    if original.status != OperationStatus.COMPLETED.value:
        raise OperationNotReversible(f"purchase {operation_id} is {original.status}")
    ledger.check_amount(amount)
    if amount.currency != original.currency:
        raise InvalidAmount(f"purchase {operation_id} was in {original.currency}, not {amount}")
    refunded = _refunded_total(session, original.id)
    if refunded + amount.minor > original.amount:
        raise OperationNotReversible(
            f"refund of {amount} would pass the purchase amount "
            f"{Money(original.amount, original.currency)}; "
            f"{Money(refunded, original.currency)} already refunded"
        )
    assert original.payer_account_id is not None and original.payee_account_id is not None
    merchant = session.get(Account, original.payee_account_id)
    payer = session.get(Account, original.payer_account_id)
    assert merchant is not None and payer is not None
    fee_back = Money(
        original.fee * (refunded + amount.minor) // original.amount
        - original.fee * refunded // original.amount,
        amount.currency,
    )
    legs = [Leg(merchant.id, -(amount - fee_back)), Leg(payer.id, amount)]
    if fee_back.minor:
        legs.append(Leg(_fee_account_of(session, original.id), -fee_back))
    refund, _ = _book(
        session,
        policy,
        operation_type=OperationType.REFUND,
        payer_id=merchant.id,
        payee_id=payer.id,
        amount=amount,
        fee=Money.zero(amount.currency),
        legs=legs,
        initiator=initiator,
        client_reference=client_reference,
        now=now,
        original_id=original.id,
        check_limits=False,
    )
    _notify_debit(session, merchant, refund, now)
    _notify_credit(session, payer, refund, amount, now)
    return refund


def settle_merchant(
    session: Session,
    policy: PaymentsPolicy,
    *,
    merchant_account_id: int,
    initiator: str,
    now: datetime,
    client_reference: str | None = None,
) -> Operation | None:
    """Pay the merchant's whole available balance out to its bank (None if there is nothing).

    After this, the day's purchases can no longer be voided, only refunded.
    """
    merchant = _account_of(session, merchant_account_id, AccountKind.MERCHANT, "merchant")
    locked = ledger.lock(session, (merchant.id,)).accounts[merchant.id]
    available = Money(locked.available, locked.currency)
    if available.minor <= 0:
        return None
    settlement = ledger.system_account(session, AccountKind.SETTLEMENT, merchant.currency, now)
    operation, _ = _book(
        session,
        policy,
        operation_type=OperationType.SETTLEMENT,
        payer_id=merchant.id,
        payee_id=settlement.id,
        amount=available,
        fee=Money.zero(available.currency),
        legs=[Leg(merchant.id, -available), Leg(settlement.id, available)],
        initiator=initiator,
        client_reference=client_reference,
        now=now,
        check_limits=False,
    )
    return operation


def expire_authorizations(session: Session, *, now: datetime) -> int:
    """Expire lapsed holds, then mark their purchases expired; returns how many holds expired.

    Operations are claimed with ``SKIP LOCKED``: a capture or void that holds a purchase's row
    first takes the hold's lock, so waiting for it here could deadlock. A purchase skipped now is
    marked on the next call (its hold is already expired, so it cannot be captured meanwhile).
    """
    holds = ledger.expire_holds(session, now=now)
    lapsed = session.scalars(
        select(Operation)
        .join(Hold, Hold.id == Operation.hold_id)
        .where(
            Operation.status == OperationStatus.AUTHORIZED.value,
            Hold.status == HoldStatus.EXPIRED.value,
        )
        .with_for_update(skip_locked=True, of=Operation)
    ).all()
    for operation in lapsed:
        operation.status = OperationStatus.EXPIRED.value
        operation.updated_at = now
    session.flush()
    return len(holds)
