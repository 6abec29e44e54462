"""Fixtures for the payments tests: a few opened accounts on a fresh migrated database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from palmvein.core.money import Money
from payments import ledger
from payments.models import Account, AccountKind


def dzd(major: str) -> Money:
    return Money.of(major, "DZD")


@dataclass
class Book:
    """A small chart of accounts: the issuer, two people's wallets, a shop, the fee account."""

    session: Session
    now: datetime
    issuance: Account
    amina: Account
    karim: Account
    shop: Account
    fees: Account

    def fund(self, account: Account, amount: Money) -> None:
        ledger.transfer(
            self.session,
            debit_account_id=self.issuance.id,
            credit_account_id=account.id,
            amount=amount,
            kind="funding",
            description="test funding",
            now=self.now,
        )

    def available(self, account: Account) -> Money:
        return ledger.balance_of(self.session, account.id).available

    def ledger_balance(self, account: Account) -> Money:
        return ledger.balance_of(self.session, account.id).ledger


def open_wallet(session: Session, name: str, now: datetime, currency: str = "DZD") -> Account:
    return ledger.open_account(
        session,
        owner_type="person",
        owner_id=name,
        kind=AccountKind.WALLET,
        currency=currency,
        now=now,
        notify_phone="+213555000000",
    )


@pytest.fixture
def book(db: Session, clock) -> Book:  # type: ignore[no-untyped-def]
    now = clock()
    session = db
    book = Book(
        session=session,
        now=now,
        issuance=ledger.system_account(session, AccountKind.ISSUANCE, "DZD", now),
        amina=open_wallet(session, "amina", now),
        karim=open_wallet(session, "karim", now),
        shop=ledger.open_account(
            session,
            owner_type="merchant",
            owner_id="epicerie-el-bahdja",
            kind=AccountKind.MERCHANT,
            currency="DZD",
            now=now,
        ),
        fees=ledger.system_account(session, AccountKind.FEES, "DZD", now),
    )
    session.commit()
    return book
