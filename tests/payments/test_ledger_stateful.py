"""Hypothesis stateful test: random transfers, holds, captures, voids and expiries against a model.

After every step: each account's balance and held amount equal the model's, each currency's
balances sum to zero (money is only moved, never made), and no account that may not go negative
has a negative available balance. Every refusal the ledger gives must be one the model predicts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.money import Money
from payments import ledger
from payments.errors import HoldNotPending, InsufficientFunds, InvalidAmount
from payments.models import Account, AccountKind

from ..conftest import FakeClock


@dataclass
class ModelAccount:
    id: int
    currency: str
    may_go_negative: bool
    balance: int = 0
    held: int = 0

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass
class ModelHold:
    id: uuid.UUID
    account: ModelAccount
    credit: ModelAccount
    amount: int
    expires_at: datetime
    pending: bool = True


# (kind, currency, may go negative): the issuer per currency, four wallets, a shop, and an
# operator account that may go negative.
LAYOUT = [
    (AccountKind.ISSUANCE, "DZD", True),
    (AccountKind.ISSUANCE, "EUR", True),
    (AccountKind.WALLET, "DZD", False),
    (AccountKind.WALLET, "DZD", False),
    (AccountKind.WALLET, "DZD", False),
    (AccountKind.WALLET, "EUR", False),
    (AccountKind.MERCHANT, "DZD", False),
    (AccountKind.SETTLEMENT, "DZD", True),
]
accounts = st.integers(0, len(LAYOUT) - 1)
amounts = st.integers(1, 200_000)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, factory: sessionmaker[Session], start: datetime) -> None:
        super().__init__()
        self.session = factory()
        self.now = start
        owner = uuid.uuid4().hex
        self.accounts: list[ModelAccount] = []
        for i, (kind, currency, negative) in enumerate(LAYOUT):
            account = ledger.open_account(
                self.session,
                owner_type="test",
                owner_id=f"{owner}-{i}",
                kind=kind,
                currency=currency,
                now=start,
                may_go_negative=negative,
            )
            self.accounts.append(ModelAccount(account.id, currency, negative))
        self.session.commit()
        self.holds: list[ModelHold] = []

    def teardown(self) -> None:
        assert ledger.verify_ledger(self.session) == []
        self.session.close()

    def _refusal(self, debit: ModelAccount, credit: ModelAccount, amount: int) -> type | None:
        if debit.currency != credit.currency or debit is credit:
            return InvalidAmount
        if not debit.may_go_negative and debit.available < amount:
            return InsufficientFunds
        return None

    def _attempt(self, expected: type | None, action, on_success) -> None:  # type: ignore[no-untyped-def]
        try:
            result = action()
        except (InvalidAmount, InsufficientFunds, HoldNotPending) as exc:
            self.session.rollback()
            assert expected is type(exc), f"unexpected refusal {exc!r}"
            return
        self.session.commit()
        assert expected is None, f"expected {expected.__name__}, but it went through"
        on_success(result)

    @rule(payer=accounts, payee=accounts, amount=amounts)
    def transfer(self, payer: int, payee: int, amount: int) -> None:
        debit, credit = self.accounts[payer], self.accounts[payee]

        def moved(_: object) -> None:
            debit.balance -= amount
            credit.balance += amount

        self._attempt(
            self._refusal(debit, credit, amount),
            lambda: ledger.transfer(
                self.session,
                debit_account_id=debit.id,
                credit_account_id=credit.id,
                amount=Money(amount, debit.currency),
                kind="random",
                description="stateful",
                now=self.now,
            ),
            moved,
        )

    @rule(payer=accounts, payee=accounts, amount=amounts, minutes=st.integers(1, 30))
    def place_hold(self, payer: int, payee: int, amount: int, minutes: int) -> None:
        debit, credit = self.accounts[payer], self.accounts[payee]
        expected = self._refusal(debit, credit, amount)
        expires_at = self.now + timedelta(minutes=minutes)

        def held(hold: object) -> None:
            debit.held += amount
            self.holds.append(ModelHold(hold.id, debit, credit, amount, expires_at))  # type: ignore[attr-defined]

        self._attempt(
            expected,
            lambda: ledger.place_hold(
                self.session,
                account_id=debit.id,
                credit_account_id=credit.id,
                amount=Money(amount, debit.currency),
                expires_at=expires_at,
                now=self.now,
            ),
            held,
        )

    @rule(data=st.data(), share=st.integers(1, 100))
    def capture(self, data: st.DataObject, share: int) -> None:
        if not self.holds:
            return
        hold = data.draw(st.sampled_from(self.holds))
        amount = max(1, hold.amount * share // 100)
        live = hold.pending and hold.expires_at > self.now

        def captured(_: object) -> None:
            hold.pending = False
            hold.account.held -= hold.amount
            hold.account.balance -= amount
            hold.credit.balance += amount

        self._attempt(
            None if live else HoldNotPending,
            lambda: ledger.capture_hold(
                self.session,
                hold.id,
                amount=Money(amount, hold.account.currency),
                kind="capture",
                description="stateful",
                now=self.now,
            ),
            captured,
        )

    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        if not self.holds:
            return
        hold = data.draw(st.sampled_from(self.holds))
        live = hold.pending and hold.expires_at > self.now

        def voided(_: object) -> None:
            hold.pending = False
            hold.account.held -= hold.amount

        self._attempt(
            None if live else HoldNotPending,
            lambda: ledger.void_hold(self.session, hold.id, now=self.now),
            voided,
        )

    @rule(minutes=st.integers(1, 20))
    def time_passes_and_holds_expire(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        expired = {h.id for h in ledger.expire_holds(self.session, now=self.now)}
        self.session.commit()
        for hold in self.holds:
            if hold.pending and hold.expires_at <= self.now:
                assert hold.id in expired
                hold.pending = False
                hold.account.held -= hold.amount

    @invariant()
    def books_match_the_model(self) -> None:
        stored = {
            row.id: row
            for row in self.session.execute(
                select(Account.id, Account.balance, Account.held).where(
                    Account.id.in_([m.id for m in self.accounts])
                )
            )
        }
        totals: dict[str, int] = {}
        for model in self.accounts:
            row = stored[model.id]
            assert (row.balance, row.held) == (model.balance, model.held)
            if not model.may_go_negative:
                assert row.balance - row.held >= 0
            totals[model.currency] = totals.get(model.currency, 0) + model.balance
        assert all(total == 0 for total in totals.values()), totals


def test_random_operations_keep_the_ledger_exact(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    run_state_machine_as_test(
        lambda: LedgerMachine(session_factory, clock()),
        settings=settings(
            max_examples=20,
            stateful_step_count=20,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
