"""Idempotency keys: a retried request moves money once; a reused key with another body is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.errors import ValidationFailed
from payments import idempotency, ledger
from payments.errors import IdempotencyKeyReused, RequestInFlight

from .conftest import Book, dzd


def _send(book: Book, session: Session, key: str, amount: str) -> idempotency.IdempotentResponse:
    request = {"from": book.amina.id, "to": book.karim.id, "amount": amount}

    def action() -> tuple[int, dict[str, Any]]:
        tx = ledger.transfer(
            session,
            debit_account_id=book.amina.id,
            credit_account_id=book.karim.id,
            amount=dzd(amount),
            kind="p2p",
            description="idempotent",
            now=book.now,
        )
        return 201, {"transaction_id": str(tx.id)}

    return idempotency.run_idempotent(
        session,
        scope="terminal:7",
        key=key,
        operation="p2p",
        request=request,
        now=book.now,
        action=action,
    )


def test_a_replayed_request_returns_the_stored_response_and_moves_money_once(book: Book) -> None:
    book.fund(book.amina, dzd("100"))
    book.session.commit()
    first = _send(book, book.session, "key-1", "30")
    book.session.commit()
    second = _send(book, book.session, "key-1", "30")
    book.session.commit()

    assert not first.replayed and second.replayed
    assert (second.status, second.body) == (first.status, first.body)
    assert book.available(book.amina) == dzd("70")
    assert book.available(book.karim) == dzd("30")


def test_the_same_key_with_a_different_body_is_refused(book: Book) -> None:
    book.fund(book.amina, dzd("100"))
    _send(book, book.session, "key-1", "30")
    book.session.commit()
    with pytest.raises(IdempotencyKeyReused):
        _send(book, book.session, "key-1", "31")
    book.session.rollback()
    assert book.available(book.amina) == dzd("70")


def test_a_refused_request_stores_nothing_and_may_be_retried(book: Book) -> None:
    book.fund(book.amina, dzd("10"))
    book.session.commit()
    with pytest.raises(ValidationFailed):
        _send(book, book.session, "key-1", "30")
    book.session.rollback()
    book.fund(book.amina, dzd("20"))
    book.session.commit()
    assert not _send(book, book.session, "key-1", "30").replayed


@pytest.mark.parametrize("key", ["", " padded ", "x" * 256, "tab\there"])
def test_malformed_keys_are_refused(key: str) -> None:
    with pytest.raises(ValidationFailed, match="Idempotency-Key"):
        idempotency.check_key(key)


def test_keys_are_kept_24_hours_then_purged(book: Book) -> None:
    book.fund(book.amina, dzd("100"))
    _send(book, book.session, "key-1", "30")
    book.session.commit()
    almost = book.now + timedelta(hours=23, minutes=59)
    assert idempotency.purge_expired(book.session, now=almost) == 0
    assert idempotency.purge_expired(book.session, now=book.now + timedelta(hours=24)) == 1
    book.session.commit()


def test_a_duplicate_while_the_first_is_in_flight_gets_409(
    book: Book, session_factory: sessionmaker[Session]
) -> None:
    if book.session.get_bind().dialect.name != "postgresql":
        pytest.skip("the in-flight 409 needs PostgreSQL advisory locks; SQLite has none")
    book.fund(book.amina, dzd("100"))
    book.session.commit()
    first, second = session_factory(), session_factory()
    try:
        _send(book, first, "key-1", "30")  # not committed yet: still in flight
        with pytest.raises(RequestInFlight):
            _send(book, second, "key-1", "30")
        second.rollback()
        first.commit()
        assert _send(book, second, "key-1", "30").replayed
        second.commit()
    finally:
        first.close()
        second.close()
    assert book.available(book.amina) == dzd("70")
