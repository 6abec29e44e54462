"""Fixtures for the payments tests: a few opened accounts on a fresh migrated database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from palmvein.core.money import Money
from payments import ledger, service
from payments.models import Account, AccountKind, OperationType, OutboxMessage
from payments.policy import FeeRule, Limit, PaymentsPolicy

from ..conftest import FakeClock


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


# -- a small economy for the wallet-operation tests ----------------------------------------

POLICY = PaymentsPolicy(
    fees={
        (OperationType.P2P_TRANSFER, "DZD"): FeeRule(rate=Decimal("0.01"), minimum=1_000),
        (OperationType.CASH_OUT, "DZD"): FeeRule(fixed=5_000),
        (OperationType.BILL_PAYMENT, "DZD"): FeeRule(fixed=2_000),
        (OperationType.PURCHASE, "DZD"): FeeRule(rate=Decimal("0.01")),
    },
    limits={
        (OperationType.P2P_TRANSFER, "DZD"): Limit(per_transaction=2_000_000, per_day=3_000_000),
    },
)


@dataclass
class World:
    session: Session
    clock: FakeClock
    agent: Account
    amina: Account
    karim: Account
    shop: Account

    @property
    def now(self) -> datetime:
        return self.clock()

    def available(self, account: Account) -> Money:
        return ledger.balance_of(self.session, account.id).available

    def fees(self) -> Money:
        return ledger.fee_total(self.session, "DZD")

    def sms_to(self, phone: str) -> list[str]:
        return list(
            self.session.scalars(
                select(OutboxMessage.body)
                .where(OutboxMessage.recipient == phone)
                .order_by(OutboxMessage.id)
            )
        )


AMINA_PHONE, KARIM_PHONE = "+213555000001", "+213555000002"


@pytest.fixture
def world(db: Session, clock: FakeClock) -> World:
    now = clock()
    agent = service.open_agent_account(db, agent_id="poste-bab-ezzouar", currency="DZD", now=now)
    world = World(
        session=db,
        clock=clock,
        agent=agent,
        amina=service.open_wallet(
            db, person_id="amina", currency="DZD", phone=AMINA_PHONE, now=now
        ),
        karim=service.open_wallet(
            db, person_id="karim", currency="DZD", phone=KARIM_PHONE, now=now
        ),
        shop=service.open_merchant_account(db, merchant_id="epicerie", currency="DZD", now=now),
    )
    service.fund_agent(
        db, POLICY, agent_account_id=agent.id, amount=dzd("1000000"), initiator="ops", now=now
    )
    service.cash_in(
        db,
        POLICY,
        agent_account_id=agent.id,
        wallet_account_id=world.amina.id,
        amount=dzd("100000"),
        initiator="agent:poste-bab-ezzouar",
        now=now,
    )
    db.commit()
    return world
