"""payments.pgfast's round trips: the BEGIN that leads the first pipeline, the COMMIT sent with the
last INSERT batch, and that neither changes what is committed or which error is raised."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from payments import idempotency, ledger, pgfast
from payments.errors import RequestInFlight
from payments.models import IdempotencyRecord, Posting

from .conftest import Book


def _record(key: str, book: Book) -> dict[str, Any]:
    return {
        "scope": "test",
        "key": key,
        "request_hash": "0" * 64,
        "response_status": 201,
        "response_body": "{}",
        "created_at": book.now,
        "expires_at": book.now + timedelta(hours=24),
    }


def _keys(factory: sessionmaker[Session]) -> set[str]:
    with factory() as other:
        return set(other.scalars(select(IdempotencyRecord.key)))


def _postings(factory: sessionmaker[Session]) -> int:
    with factory() as other:
        return int(other.scalar(select(func.count()).select_from(Posting)) or 0)


def _lookup(key: str) -> tuple[pgfast.Statement, dict[str, Any]]:
    return idempotency._LOOKUP, {"scope": "test", "key": key}


def _driver(session: Session) -> Any:
    driver = pgfast.driver_connection(session)
    if driver is None:
        pytest.skip("round trips are counted on PostgreSQL with psycopg")
    return driver


@contextmanager
def _protocol_trace(driver: Any) -> Iterator[list[str]]:
    """libpq's protocol trace of the block, one message a line."""
    from psycopg import pq

    lines: list[str] = []
    with tempfile.TemporaryFile("w+") as out:
        driver.pgconn.trace(out.fileno())
        driver.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield lines
        finally:
            driver.pgconn.untrace()
            out.flush()
            os.fsync(out.fileno())
            out.seek(0)
            lines.extend(line for line in out.read().splitlines() if line[:2] in ("F\t", "B\t"))


def _round_trips(lines: list[str]) -> int:
    """Pipeline syncs and simple queries the client sent: each waits for the server's answer."""
    return sum(
        1 for line in lines if line.startswith("F\t") and ("\tSync" in line or "\tQuery" in line)
    )


def test_the_transactions_begin_leads_its_first_pipeline(book: Book) -> None:
    session = book.session
    session.commit()
    driver = _driver(session)
    from psycopg import pq

    assert driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
    with _protocol_trace(driver) as lines:
        found = pgfast.fetch(session, _lookup("a"), _lookup("b"))
    assert found == [[], []]
    assert _round_trips(lines) == 1
    assert any('"BEGIN"' in line for line in lines if "\tParse" in line)
    # psycopg is back to its own mode, inside the transaction the BEGIN opened.
    assert driver.autocommit is False
    assert driver.pgconn.transaction_status == pq.TransactionStatus.INTRANS
    # A later query of the same transaction sends no second BEGIN.
    with _protocol_trace(driver) as lines:
        pgfast.fetch(session, _lookup("c"))
    assert not any("BEGIN" in line for line in lines)


def test_work_after_a_leading_begin_is_one_transaction(
    book: Book, session_factory: sessionmaker[Session]
) -> None:
    session = book.session
    session.commit()
    pgfast.fetch(session, _lookup("a"))
    writes = pgfast.Writes()
    writes.add(idempotency._INSERT_RECORD, [_record("rolled-back", book)])
    writes.send(session)
    session.rollback()
    assert "rolled-back" not in _keys(session_factory)

    pgfast.fetch(session, _lookup("a"))
    writes.add(idempotency._INSERT_RECORD, [_record("kept", book)])
    writes.send(session)
    assert "kept" not in _keys(session_factory)  # not before the COMMIT
    session.commit()
    assert "kept" in _keys(session_factory)


def test_send_with_commit_commits_with_the_inserts(
    book: Book, session_factory: sessionmaker[Session]
) -> None:
    session = book.session
    session.commit()
    pgfast.fetch(session, _lookup("a"))
    writes = pgfast.Writes()
    writes.add(idempotency._INSERT_RECORD, [_record("one", book), _record("two", book)])
    driver = pgfast.driver_connection(session)
    if driver is None:
        writes.send(session, commit=True)
    else:
        with _protocol_trace(driver) as lines:
            writes.send(session, commit=True)
        # INSERT and COMMIT in one round trip, no COMMIT of its own afterwards.
        assert _round_trips(lines) == 1
        assert any('"COMMIT"' in line for line in lines)
    assert {"one", "two"} <= _keys(session_factory)
    assert not session.in_transaction()
    # The session goes on as usual: a new transaction, committed or rolled back as asked.
    writes.add(idempotency._INSERT_RECORD, [_record("three", book)])
    writes.send(session)
    session.rollback()
    assert "three" not in _keys(session_factory)


def test_send_with_commit_an_insert_error_commits_nothing(
    book: Book, session_factory: sessionmaker[Session]
) -> None:
    session = book.session
    writes = pgfast.Writes()
    writes.add(idempotency._INSERT_RECORD, [_record("taken", book)])
    writes.send(session, commit=True)
    writes.add(idempotency._INSERT_RECORD, [_record("fresh", book)])
    writes.add(idempotency._INSERT_RECORD, [_record("taken", book)])
    with pytest.raises(IntegrityError):
        writes.send(session, commit=True)
    session.rollback()
    assert _keys(session_factory) == {"taken"}


def test_send_with_commit_a_failed_commit_is_not_an_insert_error(
    book: Book, session_factory: sessionmaker[Session]
) -> None:
    session = book.session
    session.commit()
    before = _postings(session_factory)
    writes = pgfast.Writes()
    # A posting without its transaction header: the deferred foreign key fails at COMMIT.
    writes.add(
        ledger._INSERT_POSTINGS,
        [{"transaction_id": uuid.uuid4(), "account_id": book.karim.id, "currency": "DZD",
          "amount": 100}],
    )  # fmt: skip
    writes.add(idempotency._INSERT_RECORD, [_record("with-orphan", book)])
    with pytest.raises(pgfast.CommitFailed) as failed:
        writes.send(session, commit=True)
    assert isinstance(failed.value.error, DBAPIError)
    session.rollback()
    assert "with-orphan" not in _keys(session_factory)
    assert _postings(session_factory) == before


def test_run_idempotent_raises_a_failed_commit_as_the_commit_raised_it(
    book: Book, session_factory: sessionmaker[Session]
) -> None:
    session = book.session
    session.commit()

    def action() -> tuple[int, dict[str, Any]]:
        buffer = pgfast.open_writes(session)
        assert buffer is not None
        buffer.add(
            ledger._INSERT_POSTINGS,
            [{"transaction_id": uuid.uuid4(), "account_id": book.karim.id, "currency": "DZD",
              "amount": 100}],
        )  # fmt: skip
        return 201, {}

    with pytest.raises(DBAPIError) as raised:
        idempotency.run_idempotent(
            session,
            scope="test",
            key="orphan",
            operation="test",
            request={},
            now=book.now,
            action=action,
            commit=True,
        )
    assert not isinstance(raised.value, RequestInFlight)
    session.rollback()
    assert "orphan" not in _keys(session_factory)


def test_run_idempotent_with_commit_commits_a_replay_too(
    book: Book, session_factory: sessionmaker[Session]
) -> None:
    session = book.session
    session.commit()
    calls: list[int] = []

    def action() -> tuple[int, dict[str, Any]]:
        calls.append(1)
        return 201, {"n": len(calls)}

    first = idempotency.run_idempotent(
        session, scope="test", key="k", operation="t", request={}, now=book.now, action=action,
        commit=True,
    )  # fmt: skip
    assert not session.in_transaction()
    assert "k" in _keys(session_factory)
    again = idempotency.run_idempotent(
        session, scope="test", key="k", operation="t", request={}, now=book.now, action=action,
        commit=True,
    )  # fmt: skip
    assert not session.in_transaction()
    assert again.replayed and (again.status, again.body) == (first.status, first.body)
    assert calls == [1]
