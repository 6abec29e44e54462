"""The double-entry ledger: accounts, balanced transactions, and holds (two-phase transfers).

Modelled on TigerBeetle's accounts and transfers (pending -> post | void | expire) and Mojaloop's
prepare/fulfil: a hold reserves funds on the debit account for a named credit account; capturing
it posts any amount up to the hold and releases the rest.

Concurrency. Every function that moves or reserves money first locks the accounts it touches with
``SELECT ... FOR UPDATE`` in ascending account id, and a hold before its accounts. A fixed lock
order means two transfers can wait for each other but never deadlock, and the balance a service
reads under the lock is the balance it changes. We chose row locks over SERIALIZABLE with retry
because payments contend on a few hot rows (a busy wallet, the fee account): under SERIALIZABLE
those would abort and retry repeatedly, while row locks simply queue. SQLite ignores FOR UPDATE;
it serialises all writers on the database lock, which is also correct (and slower).

The service checks (enough funds, currencies) give clear errors; the database enforces the same
invariants again (see ``payments.models``), so a bug here cannot corrupt balances silently.
Functions flush but never commit.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, and_, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from palmvein.core.money import Money, currency_exponent
from payments import pgfast
from payments.errors import (
    AccountNotFound,
    HoldNotFound,
    HoldNotPending,
    InsufficientFunds,
    InvalidAmount,
    UnbalancedTransaction,
)
from payments.models import Account, AccountKind, Hold, HoldStatus, LedgerTransaction, Posting

# Largest amount one posting may carry: 10^15 minor units (ten trillion dinars). Far below the
# BIGINT limit (9.2 * 10^18), so no sum of plausible postings on one account can overflow.
MAX_AMOUNT = 10**15

SYSTEM_OWNER = "operator"
# With 16, 4 concurrent payments shared a fee row about a third of the time; measured lock waits
# (pg_stat_activity, 4 threads) halved at 64. Changing it only changes where new fees go.
FEE_SHARDS = 64


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a transfer: ``amount`` is the signed change to ``account_id``'s balance."""

    account_id: int
    amount: Money


@dataclass(frozen=True, slots=True)
class LockedAccount:
    """An account row as read under its row lock (see :func:`lock`): valid until COMMIT, and
    changed only by what this transaction posts."""

    id: int
    owner_type: str
    owner_id: str
    kind: str
    currency: str
    may_go_negative: bool
    balance: int
    held: int
    notify_phone: str | None

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass(frozen=True, slots=True)
class Balance:
    account_id: int
    ledger: Money  # everything posted
    held: Money  # reserved by pending holds
    available: Money  # what can still be spent


def check_amount(amount: Money, *, what: str = "amount") -> None:
    """Raise InvalidAmount unless ``amount`` is a positive amount not above :data:`MAX_AMOUNT`."""
    if amount.minor <= 0:
        raise InvalidAmount(f"{what} must be positive, got {amount}")
    if amount.minor > MAX_AMOUNT:
        raise InvalidAmount(f"{what} {amount} is above the largest allowed amount")


# -- accounts ---------------------------------------------------------------------------------


def open_account(
    session: Session,
    *,
    owner_type: str,
    owner_id: str,
    kind: AccountKind,
    currency: str,
    now: datetime,
    may_go_negative: bool = False,
    notify_phone: str | None = None,
) -> Account:
    currency_exponent(currency)  # raises UnknownCurrency (422) for codes we cannot price
    account = Account(
        owner_type=owner_type,
        owner_id=owner_id,
        kind=kind.value,
        currency=currency,
        may_go_negative=may_go_negative,
        balance=0,
        held=0,
        notify_phone=notify_phone,
        created_at=now,
    )
    session.add(account)
    session.flush()
    return account


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise AccountNotFound(f"no account {account_id}")
    return account


def find_account(
    session: Session, *, owner_type: str, owner_id: str, kind: AccountKind, currency: str
) -> Account | None:
    return session.scalars(
        select(Account).where(
            Account.owner_type == owner_type,
            Account.owner_id == owner_id,
            Account.kind == kind.value,
            Account.currency == currency,
        )
    ).one_or_none()


def system_account(
    session: Session, kind: AccountKind, currency: str, now: datetime, *, shard: int = 0
) -> Account:
    """The operator's account of ``kind`` in ``currency`` (and ``shard``), opened on first use.

    Issuance and settlement are the ledger's boundary with the outside world (cash and banks) and
    so may go negative; the fee accounts may not.
    """
    owner_id = SYSTEM_OWNER if shard == 0 else f"{SYSTEM_OWNER}#{shard}"

    def find() -> Account | None:
        return find_account(
            session, owner_type=SYSTEM_OWNER, owner_id=owner_id, kind=kind, currency=currency
        )

    found = find()
    if found is not None:
        return found
    currency_exponent(currency)
    # Many first payments in a new currency may race to open the account: ON CONFLICT DO NOTHING
    # waits for the winner's commit instead of failing on the unique constraint.
    dialect = session.get_bind().dialect.name
    insert_for = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert_for(Account)
        .values(
            owner_type=SYSTEM_OWNER,
            owner_id=owner_id,
            kind=kind.value,
            currency=currency,
            may_go_negative=kind in (AccountKind.ISSUANCE, AccountKind.SETTLEMENT),
            balance=0,
            held=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["owner_type", "owner_id", "kind", "currency"])
    )
    found = find()
    assert found is not None, "the system account exists after an upsert"
    return found


def fee_account(session: Session, currency: str, now: datetime, *, spread_by: int) -> Account:
    """One of :data:`FEE_SHARDS` fee accounts, chosen by ``spread_by`` (the payer's account id).

    Every fee-paying transaction locks the fee account it credits until it commits; with a
    single fee account all payments would queue behind each other on that one row. Spreading
    fees over several accounts lets unrelated payments commit in parallel; their sum is the
    operator's fee income (:func:`fee_total`).
    """
    return system_account(session, AccountKind.FEES, currency, now, shard=spread_by % FEE_SHARDS)


def fee_accounts(session: Session, currency: str) -> list[Account]:
    return list(
        session.scalars(
            select(Account)
            .where(
                Account.owner_type == SYSTEM_OWNER,
                Account.kind == AccountKind.FEES.value,
                Account.currency == currency,
            )
            .order_by(Account.id)
            .execution_options(populate_existing=True)
        )
    )


def fee_total(session: Session, currency: str) -> Money:
    return Money(sum(a.balance for a in fee_accounts(session, currency)), currency)


_LOCK_COLUMNS = (
    Account.id,
    Account.owner_type,
    Account.owner_id,
    Account.kind,
    Account.currency,
    Account.may_go_negative,
    Account.balance,
    Account.held,
    Account.notify_phone,
)
_LOCK_BY_ID = (
    select(*_LOCK_COLUMNS)
    .where(Account.id.in_(bindparam("ids", expanding=True)))
    .order_by(Account.id)
    .with_for_update()
)
# The same, plus one system account found by its key: a payment's fee account is locked in the
# same statement (and the same ascending-id order) as the accounts it pays between.
_BY_KEY = and_(
    Account.owner_type == bindparam("key_owner_type"),
    Account.owner_id == bindparam("key_owner_id"),
    Account.kind == bindparam("key_kind"),
    Account.currency == bindparam("key_currency"),
)
_LOCK_BY_ID_AND_KEY = (
    select(*_LOCK_COLUMNS)
    .where(
        or_(
            Account.id.in_(bindparam("ids", expanding=True)),
            _BY_KEY,
        )
    )
    .order_by(Account.id)
    .with_for_update()
)


# On PostgreSQL the ids are one array parameter (one statement text whatever their number, so
# psycopg prepares it once); elsewhere the expanding IN above.
_IDS = bindparam("ids", type_=ARRAY(BigInteger()))
_LOCK_BY_ID_FAST = pgfast.Statement(
    select(*_LOCK_COLUMNS).where(Account.id == any_(_IDS)).order_by(Account.id).with_for_update(),
    elsewhere=_LOCK_BY_ID,
)
_LOCK_BY_ID_AND_KEY_FAST = pgfast.Statement(
    select(*_LOCK_COLUMNS)
    .where(
        or_(
            Account.id == any_(_IDS),
            _BY_KEY,
        )
    )
    .order_by(Account.id)
    .with_for_update(),
    elsewhere=_LOCK_BY_ID_AND_KEY,
)


_INSERT_POSTINGS = pgfast.Insert(
    Posting.__table__, ("transaction_id", "account_id", "currency", "amount")
)
_INSERT_TRANSACTION = pgfast.Insert(
    LedgerTransaction.__table__, ("id", "kind", "description", "operation_id", "created_at")
)


@dataclass(frozen=True, slots=True)
class Locked:
    """What :func:`lock` read: the accounts by id, and the fee account when one was asked for."""

    accounts: dict[int, LockedAccount]
    fees: LockedAccount | None = None
    then: list[Any] | None = None  # the rows of the ``then`` query, if one was given


def lock(
    session: Session,
    account_ids: Iterable[int],
    *,
    fees_in: str | None = None,
    spread_by: int = 0,
    now: datetime | None = None,
    then: tuple[pgfast.Statement, Mapping[str, Any]] | None = None,
) -> Locked:
    """Lock ``account_ids`` (and, with ``fees_in``, the fee account of that currency chosen by
    ``spread_by``) in one ``SELECT ... ORDER BY id FOR UPDATE``: the one global lock order, one
    round trip. Ids that do not exist are simply absent from the result; the caller says which
    error that is. Plain rows are returned, no ORM objects: nothing to flush or refresh.

    ``then``: a query run right after the lock statement, in the same round trip on PostgreSQL
    (it runs once the locks are held, with a snapshot of its own); its rows are ``then``.
    """
    ids = sorted(set(account_ids))
    session.flush()  # what the ORM still holds goes in first (Core statements do not autoflush)
    extra = (then,) if then is not None else ()
    if fees_in is None:
        rows, *after = pgfast.fetch(session, (_LOCK_BY_ID_FAST, {"ids": ids}), *extra)
        return Locked(
            {row[0]: LockedAccount(*row) for row in rows}, then=after[0] if after else None
        )
    shard = spread_by % FEE_SHARDS
    owner_id = SYSTEM_OWNER if shard == 0 else f"{SYSTEM_OWNER}#{shard}"
    key = {
        "key_owner_type": SYSTEM_OWNER,
        "key_owner_id": owner_id,
        "key_kind": AccountKind.FEES.value,
        "key_currency": fees_in,
    }
    for attempt in range(2):
        rows, *after = pgfast.fetch(
            session, (_LOCK_BY_ID_AND_KEY_FAST, {"ids": ids, **key}), *extra
        )
        accounts = {row[0]: LockedAccount(*row) for row in rows}
        fees = next(
            (
                a
                for a in accounts.values()
                if a.owner_type == SYSTEM_OWNER
                and a.owner_id == owner_id
                and a.kind == AccountKind.FEES.value
                and a.currency == fees_in
            ),
            None,
        )
        if fees is not None or attempt:
            break
        # First fee in this currency and shard: open the account, then lock again.
        fee_account(session, fees_in, now or datetime.now(UTC), spread_by=spread_by)
    assert fees is not None, "the fee account exists after it was opened"
    if fees.id not in ids:
        del accounts[fees.id]
    return Locked(accounts, fees, then=after[0] if after else None)


def balance_of(session: Session, account_id: int) -> Balance:
    account = session.scalars(
        select(Account).where(Account.id == account_id).execution_options(populate_existing=True)
    ).one_or_none()
    if account is None:
        raise AccountNotFound(f"no account {account_id}")
    return Balance(
        account_id=account.id,
        ledger=Money(account.balance, account.currency),
        held=Money(account.held, account.currency),
        available=Money(account.available, account.currency),
    )


# -- transactions -----------------------------------------------------------------------------


def _check_legs(legs: Sequence[Leg], accounts: Mapping[int, LockedAccount]) -> None:
    if len(legs) < 2:
        raise UnbalancedTransaction("a ledger transaction needs at least two postings")
    sums: dict[str, int] = defaultdict(int)
    for leg in legs:
        account = accounts[leg.account_id]
        if leg.amount.currency != account.currency:
            raise InvalidAmount(
                f"account {account.id} holds {account.currency}, not {leg.amount.currency}"
            )
        if leg.amount.minor == 0 or abs(leg.amount.minor) > MAX_AMOUNT:
            raise InvalidAmount(f"posting of {leg.amount} to account {account.id} is not allowed")
        sums[leg.amount.currency] += leg.amount.minor
    off = {currency: total for currency, total in sums.items() if total != 0}
    if off:
        raise UnbalancedTransaction(
            "postings must sum to zero per currency; off by "
            + ", ".join(str(Money(total, currency)) for currency, total in sorted(off.items()))
        )


def _check_funds(legs: Sequence[Leg], accounts: Mapping[int, LockedAccount]) -> None:
    deltas: dict[int, int] = defaultdict(int)
    for leg in legs:
        deltas[leg.account_id] += leg.amount.minor
    for account_id, delta in deltas.items():
        account = accounts[account_id]
        if delta < 0 and not account.may_go_negative and account.available + delta < 0:
            raise InsufficientFunds(
                f"account {account_id} has {Money(account.available, account.currency)} "
                f"available, needs {Money(-delta, account.currency)}"
            )


def attach(session: Session, instance: object) -> None:
    """Make ``instance``, whose row a Core INSERT just wrote, a persistent object of ``session``
    (as if the ORM had flushed it), without another statement."""
    make_transient_to_detached(instance)
    session.add(instance)


def expire_balances(session: Session, account_ids: Iterable[int]) -> None:
    """Forget the balances of these accounts' ORM objects, if the session holds any: the
    database triggers changed them behind the ORM's back."""
    for account_id in account_ids:
        account = session.identity_map.get(identity_key(Account, account_id))
        if account is not None:
            session.expire(account, ["balance", "held"])


def post(
    session: Session,
    legs: Sequence[Leg],
    *,
    kind: str,
    description: str,
    now: datetime,
    operation_id: uuid.UUID | None = None,
    locked: Mapping[int, LockedAccount] | None = None,
    writes: pgfast.Writes | None = None,
) -> LedgerTransaction:
    """Book ``legs`` as one balanced, immutable transaction.

    ``locked``: the legs' accounts as the caller already locked them with :func:`lock` in this
    transaction (otherwise they are locked here). ``writes``: a buffer the caller sends (see
    :mod:`payments.pgfast`); the postings and the header are then in the database only after
    that, which is when the database checks them.

    Raises UnbalancedTransaction, InvalidAmount, InsufficientFunds or AccountNotFound; nothing is
    written when it raises.
    """
    if locked is None:
        locked = lock(session, (leg.account_id for leg in legs)).accounts
    else:
        session.flush()  # the caller's pending ORM work first (Core statements do not autoflush)
    missing = sorted({leg.account_id for leg in legs if leg.account_id not in locked})
    if missing:
        raise AccountNotFound(f"no account {', '.join(map(str, missing))}")
    _check_legs(legs, locked)
    _check_funds(legs, locked)
    transaction_id = uuid.uuid4()
    # Postings first, header last: inserting the header is what the database checks and seals.
    # Credits go in before debits: the CHECK on each account runs after every row, and with the
    # credits first no account passes through a lower balance than the one it ends at. One
    # cached statement run for each row in order (psycopg sends them in one pipeline).
    ordered = sorted(legs, key=lambda leg: leg.amount.minor < 0)
    transaction = LedgerTransaction(
        id=transaction_id,
        kind=kind,
        description=description[:200],
        operation_id=operation_id,
        created_at=now,
    )
    # In the caller's open buffer (sent with its other INSERTs), or sent here: one round trip.
    with pgfast.batch(session, writes) as buffer:
        buffer.add(
            _INSERT_POSTINGS,
            [
                {
                    "transaction_id": transaction_id,
                    "account_id": leg.account_id,
                    "currency": leg.amount.currency,
                    "amount": leg.amount.minor,
                }
                for leg in ordered
            ],
        )
        buffer.add(
            _INSERT_TRANSACTION,
            [
                {
                    "id": transaction_id,
                    "kind": kind,
                    "description": transaction.description,
                    "operation_id": operation_id,
                    "created_at": now,
                }
            ],
        )
    attach(session, transaction)
    expire_balances(session, locked)
    return transaction


def transfer(
    session: Session,
    *,
    debit_account_id: int,
    credit_account_id: int,
    amount: Money,
    kind: str,
    description: str,
    now: datetime,
    operation_id: uuid.UUID | None = None,
) -> LedgerTransaction:
    """Move ``amount`` from one account to another (the common two-legged case)."""
    check_amount(amount)
    if debit_account_id == credit_account_id:
        raise InvalidAmount(f"account {debit_account_id} cannot pay itself")
    return post(
        session,
        [Leg(debit_account_id, -amount), Leg(credit_account_id, amount)],
        kind=kind,
        description=description,
        now=now,
        operation_id=operation_id,
    )


# -- holds ------------------------------------------------------------------------------------


def place_hold(
    session: Session,
    *,
    account_id: int,
    credit_account_id: int,
    amount: Money,
    expires_at: datetime,
    now: datetime,
    locked: Mapping[int, LockedAccount] | None = None,
) -> Hold:
    """Reserve ``amount`` on ``account_id`` for a later capture to ``credit_account_id``.

    ``locked``: both accounts as the caller already locked them with :func:`lock`.
    """
    check_amount(amount)
    accounts = (
        locked if locked is not None else lock(session, (account_id, credit_account_id)).accounts
    )
    missing = sorted({account_id, credit_account_id} - set(accounts))
    if missing:
        raise AccountNotFound(f"no account {', '.join(map(str, missing))}")
    for account in accounts.values():
        if account.currency != amount.currency:
            raise InvalidAmount(f"account {account.id} holds {account.currency}, not {amount}")
    if account_id == credit_account_id:
        raise InvalidAmount("a hold cannot credit the account it reserves funds on")
    _check_funds([Leg(account_id, -amount)], accounts)
    hold = Hold(
        id=uuid.uuid4(),
        account_id=account_id,
        credit_account_id=credit_account_id,
        currency=amount.currency,
        amount=amount.minor,
        status=HoldStatus.PENDING.value,
        captured_amount=0,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(hold)
    session.flush()
    expire_balances(session, (account_id,))
    return hold


def lock_pending_hold(session: Session, hold_id: uuid.UUID, now: datetime) -> Hold:
    hold = session.scalars(
        select(Hold)
        .where(Hold.id == hold_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if hold is None:
        raise HoldNotFound(f"no hold {hold_id}")
    if hold.status != HoldStatus.PENDING.value:
        raise HoldNotPending(f"hold {hold_id} is already {hold.status}")
    if hold.expires_at <= now:
        raise HoldNotPending(f"hold {hold_id} expired at {hold.expires_at.isoformat()}")
    return hold


def _resolve(session: Session, hold: Hold, status: HoldStatus, now: datetime) -> None:
    hold.status = status.value
    hold.resolved_at = now
    # Flushed before any posting: releasing the reservation first keeps balance - held >= 0 at
    # every statement, which is when the database checks it.
    session.flush()


def capture_hold(
    session: Session,
    hold_id: uuid.UUID,
    *,
    now: datetime,
    kind: str,
    description: str,
    amount: Money | None = None,
    extra_legs: Sequence[Leg] = (),
    operation_id: uuid.UUID | None = None,
    operator_fee: Money | None = None,
) -> LedgerTransaction:
    """Post ``amount`` (default: all) of a pending hold and release the rest of it.

    ``extra_legs`` are booked in the same transaction (a merchant's debit for its fee, for
    example); ``operator_fee`` adds a leg crediting it to the fee account of the hold's payer.
    """
    hold = lock_pending_hold(session, hold_id, now)
    transaction, _ = capture_pending_hold(
        session,
        hold,
        now=now,
        kind=kind,
        description=description,
        amount=amount,
        extra_legs=extra_legs,
        operation_id=operation_id,
        operator_fee=operator_fee,
    )
    return transaction


def capture_pending_hold(
    session: Session,
    hold: Hold,
    *,
    now: datetime,
    kind: str,
    description: str,
    amount: Money | None = None,
    extra_legs: Sequence[Leg] = (),
    operation_id: uuid.UUID | None = None,
    operator_fee: Money | None = None,
    released: Locked | None = None,
) -> tuple[LedgerTransaction, dict[int, LockedAccount]]:
    """:func:`capture_hold` of a hold the caller has locked and found pending and unexpired
    (or placed itself in this transaction, where no one else can see it).

    ``released``: the accounts as the caller locked them, balances as they are once this hold is
    released (with the fee account if ``operator_fee`` is set); otherwise they are locked here,
    after the hold. Returns the transaction and the locked rows (balances before the posting).
    """
    captured = amount if amount is not None else Money(hold.amount, hold.currency)
    check_amount(captured, what="capture amount")
    if captured.currency != hold.currency:
        raise InvalidAmount(f"hold {hold.id} is in {hold.currency}, not {captured.currency}")
    if captured.minor > hold.amount:
        raise InvalidAmount(
            f"cannot capture {captured}: hold {hold.id} is for {Money(hold.amount, hold.currency)}"
        )
    legs = [Leg(hold.account_id, -captured), Leg(hold.credit_account_id, captured), *extra_legs]
    if released is None:
        released = lock(
            session,
            (leg.account_id for leg in legs),
            fees_in=hold.currency if operator_fee is not None else None,
            spread_by=hold.account_id,
            now=now,
        )
        # Releasing the hold will lower the payer's ``held``, under our lock, by its amount.
        payer = released.accounts.get(hold.account_id)
        if payer is not None:
            released.accounts[payer.id] = replace(payer, held=payer.held - hold.amount)
    accounts = dict(released.accounts)
    if operator_fee is not None:
        assert released.fees is not None, "the fee account is locked with the others"
        accounts[released.fees.id] = released.fees
        legs.append(Leg(released.fees.id, operator_fee))
    hold.captured_amount = captured.minor
    _resolve(session, hold, HoldStatus.CAPTURED, now)
    transaction = post(
        session,
        legs,
        kind=kind,
        description=description,
        now=now,
        operation_id=operation_id,
        locked=accounts,
    )
    return transaction, accounts


def void_hold(session: Session, hold_id: uuid.UUID, *, now: datetime) -> Hold:
    """Release a pending hold without moving money."""
    hold = lock_pending_hold(session, hold_id, now)
    lock(session, (hold.account_id,))
    _resolve(session, hold, HoldStatus.VOIDED, now)
    return hold


def expire_holds(session: Session, *, now: datetime, limit: int = 500) -> list[Hold]:
    """Mark pending holds whose time has passed as expired, releasing their funds.

    ``SKIP LOCKED`` lets several workers expire in parallel and never waits for a hold that a
    capture is working on (that capture will itself refuse an expired hold).
    """
    holds = list(
        session.scalars(
            select(Hold)
            .where(Hold.status == HoldStatus.PENDING.value, Hold.expires_at <= now)
            .order_by(Hold.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    for hold in holds:
        lock(session, (hold.account_id,))
        _resolve(session, hold, HoldStatus.EXPIRED, now)
    return holds


# -- verification -----------------------------------------------------------------------------


def verify_ledger(session: Session) -> list[str]:
    """Recompute every invariant from the postings and holds; returns one line per problem.

    An empty list means: every transaction balances per currency, each currency's postings sum to
    zero, every account's stored balance equals the sum of its postings and its ``held`` the sum
    of its pending holds, and no account that may not go negative is below zero.
    """
    problems: list[str] = []
    for transaction_id, currency, total in session.execute(
        select(Posting.transaction_id, Posting.currency, func.sum(Posting.amount))
        .group_by(Posting.transaction_id, Posting.currency)
        .having(func.sum(Posting.amount) != 0)
    ):
        problems.append(f"transaction {transaction_id} is off by {total} {currency}")
    for currency, total in session.execute(
        select(Posting.currency, func.sum(Posting.amount)).group_by(Posting.currency)
    ):
        if total != 0:
            problems.append(f"{currency} postings sum to {total}, not zero")
    posted: dict[int, int] = {
        account_id: int(total)
        for account_id, total in session.execute(
            select(Posting.account_id, func.sum(Posting.amount)).group_by(Posting.account_id)
        )
    }
    pending: dict[int, int] = {
        account_id: int(total)
        for account_id, total in session.execute(
            select(Hold.account_id, func.sum(Hold.amount))
            .where(Hold.status == HoldStatus.PENDING.value)
            .group_by(Hold.account_id)
        )
    }
    for account in session.scalars(
        select(Account).order_by(Account.id).execution_options(populate_existing=True)
    ):
        if account.balance != posted.get(account.id, 0):
            problems.append(
                f"account {account.id} stores balance {account.balance}, "
                f"postings sum to {posted.get(account.id, 0)}"
            )
        if account.held != pending.get(account.id, 0):
            problems.append(
                f"account {account.id} stores held {account.held}, "
                f"pending holds sum to {pending.get(account.id, 0)}"
            )
        if not account.may_go_negative and account.balance - account.held < 0:
            problems.append(f"account {account.id} is negative: {account.balance - account.held}")
    return problems
