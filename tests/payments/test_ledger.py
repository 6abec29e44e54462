"""Worked examples of the double-entry ledger, and the database refusing to break its rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from palmvein.core.money import Money
from payments import ledger
from payments.errors import (
    HoldNotPending,
    InsufficientFunds,
    InvalidAmount,
    UnbalancedTransaction,
)
from payments.ledger import Leg
from payments.models import HoldStatus

from .conftest import Book, dzd


def test_a_transfer_moves_money_and_keeps_the_books_balanced(book: Book) -> None:
    # Amina receives 1 000 DZD of e-money, then sends 250.50 DZD to Karim.
    book.fund(book.amina, dzd("1000"))
    ledger.transfer(
        book.session,
        debit_account_id=book.amina.id,
        credit_account_id=book.karim.id,
        amount=dzd("250.50"),
        kind="p2p",
        description="rent share",
        now=book.now,
    )
    book.session.commit()

    assert book.available(book.amina) == dzd("749.50")
    assert book.available(book.karim) == dzd("250.50")
    # The issuer's account is the counterpart of all e-money in circulation.
    assert book.ledger_balance(book.issuance) == dzd("-1000")
    assert ledger.verify_ledger(book.session) == []


def test_a_wallet_cannot_spend_more_than_it_has(book: Book) -> None:
    book.fund(book.amina, dzd("100"))
    book.session.commit()
    with pytest.raises(InsufficientFunds, match="100.00 DZD available"):
        ledger.transfer(
            book.session,
            debit_account_id=book.amina.id,
            credit_account_id=book.karim.id,
            amount=dzd("100.01"),
            kind="p2p",
            description="too much",
            now=book.now,
        )
    book.session.rollback()
    assert book.available(book.amina) == dzd("100")


def test_three_legged_transaction_with_a_fee(book: Book) -> None:
    book.fund(book.amina, dzd("500"))
    ledger.post(
        book.session,
        [
            Leg(book.amina.id, dzd("-205")),
            Leg(book.karim.id, dzd("200")),
            Leg(book.fees.id, dzd("5")),
        ],
        kind="p2p",
        description="transfer with fee",
        now=book.now,
    )
    book.session.commit()
    assert book.available(book.amina) == dzd("295")
    assert book.available(book.fees) == dzd("5")


@pytest.mark.parametrize(
    ("legs_of", "error"),
    [
        (lambda b: [Leg(b.amina.id, dzd("-5")), Leg(b.karim.id, dzd("4"))], UnbalancedTransaction),
        (lambda b: [Leg(b.amina.id, dzd("-5"))], UnbalancedTransaction),
        (lambda b: [Leg(b.amina.id, dzd("0")), Leg(b.karim.id, dzd("0"))], InvalidAmount),
        (
            lambda b: [Leg(b.amina.id, Money(-5, "EUR")), Leg(b.karim.id, Money(5, "EUR"))],
            InvalidAmount,
        ),
        (
            lambda b: [
                Leg(b.issuance.id, Money(-(10**15 + 1), "DZD")),
                Leg(b.karim.id, Money(10**15 + 1, "DZD")),
            ],
            InvalidAmount,
        ),
    ],
    ids=["unbalanced", "single-leg", "zero", "wrong-currency", "overflow"],
)
def test_bad_transactions_are_refused_and_book_nothing(book: Book, legs_of, error) -> None:  # type: ignore[no-untyped-def]
    book.fund(book.amina, dzd("10"))
    book.session.commit()
    with pytest.raises(error):
        ledger.post(book.session, legs_of(book), kind="bad", description="bad", now=book.now)
    book.session.rollback()
    assert book.available(book.amina) == dzd("10")
    assert book.available(book.karim) == dzd("0")
    assert ledger.verify_ledger(book.session) == []


def test_hold_then_partial_capture_releases_the_rest(book: Book) -> None:
    # A shop reserves 300 DZD, the final bill is 120 DZD: 120 moves, 180 is free again.
    book.fund(book.amina, dzd("500"))
    hold = ledger.place_hold(
        book.session,
        account_id=book.amina.id,
        credit_account_id=book.shop.id,
        amount=dzd("300"),
        expires_at=book.now + timedelta(minutes=15),
        now=book.now,
    )
    balance = ledger.balance_of(book.session, book.amina.id)
    assert (balance.ledger, balance.held, balance.available) == (dzd("500"), dzd("300"), dzd("200"))

    ledger.capture_hold(
        book.session, hold.id, amount=dzd("120"), kind="purchase", description="x", now=book.now
    )
    book.session.commit()
    balance = ledger.balance_of(book.session, book.amina.id)
    assert (balance.ledger, balance.held, balance.available) == (dzd("380"), dzd("0"), dzd("380"))
    assert book.available(book.shop) == dzd("120")
    assert hold.status == HoldStatus.CAPTURED
    with pytest.raises(HoldNotPending):
        ledger.capture_hold(book.session, hold.id, kind="purchase", description="x", now=book.now)
    assert ledger.verify_ledger(book.session) == []


def test_held_funds_cannot_be_spent_twice(book: Book) -> None:
    book.fund(book.amina, dzd("100"))
    ledger.place_hold(
        book.session,
        account_id=book.amina.id,
        credit_account_id=book.shop.id,
        amount=dzd("80"),
        expires_at=book.now + timedelta(minutes=15),
        now=book.now,
    )
    with pytest.raises(InsufficientFunds):
        ledger.transfer(
            book.session,
            debit_account_id=book.amina.id,
            credit_account_id=book.karim.id,
            amount=dzd("30"),
            kind="p2p",
            description="x",
            now=book.now,
        )


def test_void_and_expiry_release_holds(book: Book) -> None:
    book.fund(book.amina, dzd("100"))
    voided = ledger.place_hold(
        book.session,
        account_id=book.amina.id,
        credit_account_id=book.shop.id,
        amount=dzd("40"),
        expires_at=book.now + timedelta(minutes=15),
        now=book.now,
    )
    expiring = ledger.place_hold(
        book.session,
        account_id=book.amina.id,
        credit_account_id=book.shop.id,
        amount=dzd("50"),
        expires_at=book.now + timedelta(minutes=5),
        now=book.now,
    )
    assert book.available(book.amina) == dzd("10")
    ledger.void_hold(book.session, voided.id, now=book.now)
    assert book.available(book.amina) == dzd("50")

    later = book.now + timedelta(minutes=6)
    with pytest.raises(HoldNotPending, match="expired"):
        ledger.capture_hold(book.session, expiring.id, kind="purchase", description="x", now=later)
    assert [h.id for h in ledger.expire_holds(book.session, now=later)] == [expiring.id]
    book.session.commit()
    assert book.available(book.amina) == dzd("100")
    assert expiring.status == HoldStatus.EXPIRED
    assert ledger.verify_ledger(book.session) == []


# -- the database's own guarantees, with the service bypassed --------------------------------


def _raw(book: Book, sql: str, **params: object) -> None:
    book.session.execute(text(sql), params)
    book.session.flush()


def _one_posting_id(book: Book) -> int:
    return int(book.session.execute(text("SELECT min(id) FROM pay_postings")).scalar_one())


def test_database_refuses_to_edit_or_delete_postings(book: Book) -> None:
    book.fund(book.amina, dzd("10"))
    book.session.commit()
    posting = _one_posting_id(book)
    with pytest.raises(IntegrityError, match="append-only"):
        _raw(book, "UPDATE pay_postings SET amount = amount * 2 WHERE id = :id", id=posting)
    book.session.rollback()
    with pytest.raises(IntegrityError, match="append-only"):
        _raw(book, "DELETE FROM pay_postings WHERE id = :id", id=posting)
    book.session.rollback()
    with pytest.raises(IntegrityError, match="append-only"):
        _raw(book, "DELETE FROM pay_transactions")
    book.session.rollback()


def _insert_posting(book: Book, tx: str, account_id: int, amount: int) -> None:
    _raw(
        book,
        "INSERT INTO pay_postings (transaction_id, account_id, currency, amount) "
        "VALUES (:tx, :account, 'DZD', :amount)",
        tx=tx,
        account=account_id,
        amount=amount,
    )


def _insert_header(book: Book, tx: str) -> None:
    _raw(
        book,
        "INSERT INTO pay_transactions (id, kind, description, created_at) "
        "VALUES (:tx, 'raw', 'raw', :now)",
        tx=tx,
        now=book.now,
    )


def _tx_id(book: Book) -> str:
    import uuid

    value = uuid.uuid4()
    # Stored the way SQLAlchemy's Uuid type stores it on each backend.
    return str(value) if book.session.get_bind().dialect.name == "postgresql" else value.hex


def test_database_checks_each_transaction_as_a_whole(book: Book) -> None:
    # Unbalanced: the header is refused.
    tx = _tx_id(book)
    _insert_posting(book, tx, book.issuance.id, -500)
    _insert_posting(book, tx, book.karim.id, 400)
    with pytest.raises(IntegrityError, match="balance"):
        _insert_header(book, tx)
    book.session.rollback()

    # No header at all: refused at COMMIT (deferred foreign key).
    tx = _tx_id(book)
    _insert_posting(book, tx, book.issuance.id, -500)
    _insert_posting(book, tx, book.karim.id, 500)
    with pytest.raises(IntegrityError):
        book.session.commit()
    book.session.rollback()
    assert book.available(book.karim) == dzd("0")

    # Sealed: once the header is in, no posting may join it.
    tx = _tx_id(book)
    _insert_posting(book, tx, book.issuance.id, -500)
    _insert_posting(book, tx, book.karim.id, 500)
    _insert_header(book, tx)
    with pytest.raises(IntegrityError, match="sealed"):
        _insert_posting(book, tx, book.karim.id, 1)
    book.session.rollback()


def _insert_postings(book: Book, rows: list[tuple[str, int, int]]) -> None:
    """One INSERT statement of several postings (transaction, account, amount), in order."""
    values = ", ".join(f"(:tx{i}, :account{i}, 'DZD', :amount{i})" for i in range(len(rows)))
    params: dict[str, object] = {}
    for i, (tx, account_id, amount) in enumerate(rows):
        params |= {f"tx{i}": tx, f"account{i}": account_id, f"amount{i}": amount}
    _raw(
        book,
        f"INSERT INTO pay_postings (transaction_id, account_id, currency, amount) VALUES {values}",
        **params,
    )


def test_one_statement_of_postings_adds_each_accounts_total(book: Book) -> None:
    tx = _tx_id(book)
    _insert_postings(
        book, [(tx, book.karim.id, 300), (tx, book.karim.id, 400), (tx, book.issuance.id, -700)]
    )
    _insert_header(book, tx)
    book.session.commit()
    assert book.available(book.karim) == Money(700, "DZD")
    assert book.ledger_balance(book.issuance) == Money(-700, "DZD")
    assert ledger.verify_ledger(book.session) == []


def test_one_statement_with_a_posting_to_a_sealed_transaction_is_refused_whole(book: Book) -> None:
    sealed = _tx_id(book)
    _insert_posting(book, sealed, book.issuance.id, -500)
    _insert_posting(book, sealed, book.karim.id, 500)
    _insert_header(book, sealed)
    book.session.commit()
    fresh = _tx_id(book)
    with pytest.raises(IntegrityError, match="sealed"):
        _insert_postings(
            book,
            [
                (fresh, book.amina.id, 100),
                (sealed, book.karim.id, 1),
                (fresh, book.issuance.id, -101),
            ],
        )
    book.session.rollback()
    assert book.available(book.karim) == dzd("5")
    assert book.available(book.amina) == dzd("0")


def test_one_statement_of_postings_cannot_overdraw(book: Book) -> None:
    tx = _tx_id(book)
    with pytest.raises(IntegrityError, match="available_not_negative"):
        _insert_postings(book, [(tx, book.karim.id, 100), (tx, book.amina.id, -100)])
    book.session.rollback()
    assert book.available(book.amina) == dzd("0")


def test_postgresql_checks_each_transaction_balances_at_commit(book: Book) -> None:
    if book.session.get_bind().dialect.name != "postgresql":
        pytest.skip("the commit-time check is PostgreSQL's (SQLite checks at the header)")
    # Without the header's own check (this test's database only), the deferred one still refuses.
    _raw(book, "ALTER TABLE pay_transactions DISABLE TRIGGER pay_transactions_seal")
    tx = _tx_id(book)
    _insert_postings(book, [(tx, book.issuance.id, -500), (tx, book.karim.id, 400)])
    _insert_header(book, tx)
    with pytest.raises(IntegrityError, match="does not balance at commit"):
        book.session.commit()
    book.session.rollback()
    assert book.available(book.karim) == dzd("0")


def test_database_keeps_non_negative_accounts_non_negative(book: Book) -> None:
    # A balanced transaction that overdraws Amina: only the database stands in the way.
    tx = _tx_id(book)
    with pytest.raises(IntegrityError, match="available_not_negative"):
        _insert_posting(book, tx, book.amina.id, -1)
    book.session.rollback()


def test_database_maintains_balances_from_postings(book: Book) -> None:
    tx = _tx_id(book)
    _insert_posting(book, tx, book.issuance.id, -700)
    _insert_posting(book, tx, book.karim.id, 700)
    _insert_header(book, tx)
    book.session.commit()
    assert book.available(book.karim) == Money(700, "DZD")
    assert ledger.verify_ledger(book.session) == []


def test_postgresql_refuses_direct_balance_updates(book: Book) -> None:
    if book.session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite cannot tell a trigger's UPDATE from a direct one (documented gap)")
    with pytest.raises(IntegrityError, match="only through postings"):
        _raw(book, "UPDATE pay_accounts SET balance = 10 WHERE id = :id", id=book.karim.id)
    book.session.rollback()


def test_verify_ledger_reports_a_tampered_balance_on_sqlite(book: Book) -> None:
    if book.session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses the tampering itself")
    _raw(book, "UPDATE pay_accounts SET balance = 10 WHERE id = :id", id=book.karim.id)
    assert ledger.verify_ledger(book.session) == [
        f"account {book.karim.id} stores balance 10, postings sum to 0"
    ]
    book.session.rollback()


def test_database_refuses_to_reopen_a_resolved_hold(book: Book) -> None:
    book.fund(book.amina, dzd("100"))
    hold = ledger.place_hold(
        book.session,
        account_id=book.amina.id,
        credit_account_id=book.shop.id,
        amount=dzd("40"),
        expires_at=book.now + timedelta(minutes=15),
        now=book.now,
    )
    ledger.void_hold(book.session, hold.id, now=book.now)
    book.session.commit()
    hold_id = hold.id if book.session.get_bind().dialect.name == "postgresql" else hold.id.hex
    with pytest.raises(IntegrityError, match="already"):
        _raw(book, "UPDATE pay_holds SET status = 'pending' WHERE id = :id", id=str(hold_id))
    book.session.rollback()
