"""The ledger accounts payroll books to (in :mod:`payments.ledger`, whose kinds we reuse).

- employer payroll funding: ``payroll/employer``, kind ``settlement``, may go negative. Its
  negative balance is the pay cost the employer has booked and owes the operator (funded by a
  transfer from the treasury's bank, which is where settlement accounts face the outside world);
- one liability per creditor: ``payroll/liability:tax``, ``...:social_security``,
  ``...:loan``, ``...:other``, kind ``biller`` (collections owed to a third party, remitted
  later), may not go negative;
- net pay held per employee: ``payroll_net/<employee id>``, kind ``wallet``, may not go
  negative. It is not the employee's own wallet (owner type ``person``): the money sits here,
  reserved for that employee alone, until it is released to their wallet or paid out in cash.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from palmvein.core.money import currency_exponent
from payments.models import Account, AccountKind
from payroll.structures import Liability

OWNER = "payroll"
NET_OWNER = "payroll_net"
FUNDING_ID = "employer"
_UPSERT_CHUNK = 1000  # 8 parameters a row: well under the drivers' limits


def upsert_accounts(session: Session, rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert_for = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # One multi-row INSERT per chunk, not one statement per account.
    for start in range(0, len(rows), _UPSERT_CHUNK):
        session.execute(
            insert_for(Account)
            .values(rows[start : start + _UPSERT_CHUNK])
            .on_conflict_do_nothing(index_elements=["owner_type", "owner_id", "kind", "currency"])
        )


def account_row(
    owner_type: str, owner_id: str, kind: AccountKind, currency: str, now: datetime, negative: bool
) -> dict[str, object]:
    return {
        "owner_type": owner_type,
        "owner_id": owner_id,
        "kind": kind.value,
        "currency": currency,
        "may_go_negative": negative,
        "balance": 0,
        "held": 0,
        "created_at": now,
    }


def find_account_id(
    session: Session, owner_type: str, owner_id: str, kind: AccountKind, currency: str
) -> int:
    found = session.scalar(
        select(Account.id).where(
            Account.owner_type == owner_type,
            Account.owner_id == owner_id,
            Account.kind == kind.value,
            Account.currency == currency,
        )
    )
    assert found is not None, "the account exists after the upsert"
    return found


def funding_account(session: Session, currency: str, now: datetime) -> int:
    currency_exponent(currency)
    upsert_accounts(
        session, [account_row(OWNER, FUNDING_ID, AccountKind.SETTLEMENT, currency, now, True)]
    )
    return find_account_id(session, OWNER, FUNDING_ID, AccountKind.SETTLEMENT, currency)


def liability_accounts(session: Session, currency: str, now: datetime) -> dict[Liability, int]:
    rows = [
        account_row(OWNER, f"liability:{li.value}", AccountKind.BILLER, currency, now, False)
        for li in Liability
    ]
    upsert_accounts(session, rows)
    return {
        li: find_account_id(session, OWNER, f"liability:{li.value}", AccountKind.BILLER, currency)
        for li in Liability
    }


# Opens the missing accounts and returns every account's id in one statement. The no-op update
# on conflict is what makes existing rows come back too; the conflict arbiter is the unique
# index, so each lookup is an index probe whatever the planner's statistics say (a join or an IN
# list degraded to a scan of the whole table while a large payroll was being posted).
_PG_NET_ACCOUNTS = text(
    "INSERT INTO pay_accounts (owner_type, owner_id, kind, currency, "
    "may_go_negative, balance, held, created_at) "
    "SELECT :owner_type, o, :kind, :currency, false, 0, 0, :now "
    "FROM unnest(CAST(:owners AS varchar[])) AS o "
    "ON CONFLICT (owner_type, owner_id, kind, currency) "
    "DO UPDATE SET owner_id = EXCLUDED.owner_id "
    "RETURNING owner_id, id"
)


def net_accounts(
    session: Session, employee_ids: Iterable[int], currency: str, now: datetime
) -> dict[int, int]:
    """Employee id -> id of the account their net pay is held on (opened when missing)."""
    owners = [str(i) for i in employee_ids]
    if not owners:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        params = {
            "owner_type": NET_OWNER,
            "kind": AccountKind.WALLET.value,
            "currency": currency,
            "owners": owners,
            "now": now,
        }
        rows = session.execute(_PG_NET_ACCOUNTS, params)
        return {int(owner): account_id for owner, account_id in rows}
    query = select(Account.owner_id, Account.id).where(
        Account.owner_type == NET_OWNER,
        Account.kind == AccountKind.WALLET.value,
        Account.currency == currency,
        Account.owner_id.in_(owners),
    )
    found = {owner: account_id for owner, account_id in session.execute(query)}
    missing = [o for o in owners if o not in found]
    if missing:
        upsert_accounts(
            session,
            [account_row(NET_OWNER, o, AccountKind.WALLET, currency, now, False) for o in missing],
        )
        found = {owner: account_id for owner, account_id in session.execute(query)}
    return {int(owner): account_id for owner, account_id in found.items()}
