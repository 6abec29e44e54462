"""The hot statements of a payment, run on PostgreSQL through the psycopg connection itself.

A transfer is a handful of small statements; through SQLAlchemy each one paid more client CPU for
compiling, cache-keying and result set-up than the database spent running it, and each was a round
trip of its own. Here, on PostgreSQL with psycopg, a statement is compiled to SQL text once and run
on the driver connection inside the session's transaction (the same connection, so the same
transaction, locks and triggers), and statements that do not need each other's results are sent
in one pipeline: one round trip. Other databases (SQLite for the demo) run the same statements
through SQLAlchemy one by one, with the same results.

:class:`Writes` collects the INSERTs of one operation and sends them together; a write buffered
there reaches the database only when :meth:`Writes.send` runs, so nothing may read what it
wrote before that (the payments code sends before any further statement).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Executable, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

_SESSION_WRITES = "payments.pgfast.writes"  # Session.info key of the open Writes, if any


def driver_connection(session: Session) -> Any | None:
    """The psycopg connection under ``session``'s transaction (begun if it was not), or None
    on any other database or driver."""
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return None
    return connection.connection.driver_connection


class Statement:
    """A Core statement compiled once to PostgreSQL SQL text with ``%(name)s`` parameters;
    ``elsewhere`` is the one other databases run instead (default: the same)."""

    __slots__ = ("_constants", "_text", "elsewhere", "statement")

    def __init__(self, statement: ClauseElement, elsewhere: Executable | None = None) -> None:
        self.statement = statement
        self.elsewhere: Any = statement if elsewhere is None else elsewhere
        self._text: str | None = None
        self._constants: dict[str, Any] = {}

    def text(self, dialect: Dialect) -> str:
        if self._text is None:
            compiled = self.statement.compile(dialect=dialect)
            text = str(compiled)
            if "POSTCOMPILE" in text:
                raise ValueError("expanding parameters (IN lists) are not supported: use ANY")
            # Bound constants (bindparam(value=...)) travel with the statement.
            self._constants = {k: v for k, v in compiled.params.items() if v is not None}
            self._text = text
        return self._text

    def params(self, given: Mapping[str, Any]) -> Mapping[str, Any]:
        return {**self._constants, **given} if self._constants else given


def _wrapped(sql: str, exc: Exception) -> Exception:
    """The driver's error as SQLAlchemy would have raised it (IntegrityError, InternalError,
    OperationalError, ...), so callers and the problem handlers see one family of errors."""
    import psycopg

    return DBAPIError.instance(sql, None, exc, psycopg.Error, hide_parameters=True)


class Insert:
    """``INSERT INTO table (columns) VALUES (...)``, no RETURNING, for :class:`Writes`.

    On PostgreSQL the rows of one :meth:`Writes.add` go in one statement, ``VALUES (...),
    (...)`` in the order given (its text kept per row count, so the server prepares each once).
    Row triggers and per-row checks see the rows in that order, as they would one INSERT after
    another: the rows are inserted in list order and their AFTER ROW triggers fire in that order
    at the end of the statement, before the next statement of the batch runs.
    """

    __slots__ = ("_sql_rows", "columns", "sql", "table")

    def __init__(self, table: Any, columns: Sequence[str]) -> None:
        if not isinstance(table, Table):
            raise TypeError(f"a Table is needed, not {type(table).__name__}")
        self.table: Table = table
        self.columns = tuple(columns)
        unknown = set(self.columns) - set(table.c.keys())
        if unknown:
            raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
        self._sql_rows: dict[int, str] = {}
        self.sql = self.sql_rows(1)

    def sql_rows(self, count: int) -> str:
        """The statement for ``count`` rows, with positional parameters row by row."""
        found = self._sql_rows.get(count)
        if found is None:
            row = f"({', '.join(['%s'] * len(self.columns))})"
            found = self._sql_rows[count] = (
                f"INSERT INTO {self.table.name} ({', '.join(self.columns)}) "
                f"VALUES {', '.join([row] * count)}"
            )
        return found

    def values(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """The parameters of :meth:`sql_rows` for ``rows``, row by row in column order."""
        columns = self.columns
        return [row[column] for row in rows for column in columns]


def _pending_begin(driver: Any) -> bytes | None:
    """The BEGIN psycopg is about to send before the next statement, or None.

    psycopg opens a transaction lazily, and in pipeline mode it sends its BEGIN and waits for the
    answer (a round trip of its own) before the first statement. When the connection has no
    transaction yet (idle, not autocommit, no pipeline open) the same BEGIN can instead lead the
    first pipeline; see :func:`fetch`. None also when this psycopg lacks what that needs.
    """
    from psycopg import pq

    if (
        driver.autocommit
        or driver.pgconn.transaction_status != pq.TransactionStatus.IDLE
        or getattr(driver, "_pipeline", True) is not None
        or not hasattr(driver, "_autocommit")
    ):
        return None
    start = getattr(driver, "_get_tx_start_command", None)
    command = start() if start is not None else None
    return command if isinstance(command, bytes) and command.startswith(b"BEGIN") else None


def fetch(session: Session, *queries: tuple[Statement, Mapping[str, Any]]) -> list[list[Any]]:
    """Run ``queries`` in order and return each one's rows; on PostgreSQL in one pipeline.

    When they are the transaction's first statements, the transaction's BEGIN (the one psycopg
    would send as a round trip of its own, same isolation and access mode) leads the same
    pipeline: psycopg is told not to open one (autocommit, only while the pipeline is built,
    when no transaction is open), and once the BEGIN is sent it is back to its normal mode inside
    the open transaction, as if it had opened it: the COMMIT or ROLLBACK ends it as usual.
    """
    driver = driver_connection(session)
    if driver is None:
        connection = session.connection()
        return [list(connection.execute(q.elsewhere, dict(p)).all()) for q, p in queries]
    import psycopg

    dialect = session.connection().dialect
    begin = _pending_begin(driver)
    try:
        if begin is None and len(queries) == 1:
            query, params = queries[0]
            return [driver.execute(query.text(dialect), query.params(params)).fetchall()]
        if begin is None:
            with driver.pipeline():
                cursors = [driver.execute(q.text(dialect), q.params(p)) for q, p in queries]
            return [cursor.fetchall() for cursor in cursors]
        driver.autocommit = True  # allowed: no transaction is open yet
        try:
            with driver.pipeline():
                driver.execute(begin, prepare=False)
                cursors = [driver.execute(q.text(dialect), q.params(p)) for q, p in queries]
        finally:
            # The transaction is open now (or the BEGIN failed): psycopg's normal mode again.
            # The property's setter refuses inside a transaction, hence the attribute.
            driver._autocommit = False
        return [cursor.fetchall() for cursor in cursors]
    except psycopg.Error as exc:
        raise _wrapped(queries[0][0].text(dialect), exc) from exc


class CommitFailed(Exception):
    """The COMMIT sent by ``Writes.send(commit=True)`` failed (a deferred constraint, the
    server): ``error`` is what ``Session.commit()`` would have raised. Not an INSERT's error, so
    callers that map INSERT errors must not map it."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Writes:
    """INSERTs of one operation, sent together by :meth:`send` (one pipeline on PostgreSQL).

    Open one with :func:`writes`; code that writes asks :func:`open_writes` for the session's
    open buffer and adds to it, or runs its INSERTs at once when there is none.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Insert, list[dict[str, Any]]]] = []

    def add(self, insert: Insert, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self._pending.append((insert, list(rows)))

    def send(self, session: Session, *, commit: bool = False) -> None:
        """Run the buffered INSERTs in the order they were added; with ``commit``, then commit
        the session's transaction (on PostgreSQL the COMMIT goes in the same pipeline, one round
        trip for both; the session is then committed with nothing left to send).

        Errors are SQLAlchemy's on either path (:class:`sqlalchemy.exc.IntegrityError` for a
        constraint, the driver's error as ``orig``), so callers map them the same way; a failed
        COMMIT raises :class:`CommitFailed` instead (the INSERTs ran; the transaction is gone).
        """
        pending, self._pending = self._pending, []
        if not pending:
            if commit:
                _commit(session)
            return
        session.flush()  # pending ORM work goes first, as it would have without the buffer
        driver = driver_connection(session)
        if driver is None:
            connection = session.connection()
            for insert, rows in pending:
                connection.execute(insert.table.insert(), rows)
            if commit:
                _commit(session)
            return
        import psycopg
        from psycopg import pq

        try:
            with driver.pipeline(), driver.cursor() as cursor:
                for insert, rows in pending:
                    cursor.execute(insert.sql_rows(len(rows)), insert.values(rows))
                if commit:
                    # Skipped by the server if an INSERT failed (the pipeline is aborted).
                    cursor.execute(b"COMMIT", prepare=False)
        except psycopg.Error as exc:
            status = driver.pgconn.transaction_status
            if commit and status != pq.TransactionStatus.INERROR:
                # Not an INSERT's failure (that leaves the transaction open and aborted): the
                # COMMIT's own, or the connection's.
                raise CommitFailed(_wrapped("COMMIT", exc)) from exc
            raise _wrapped(pending[0][0].sql, exc) from exc
        if commit:
            # The transaction is committed: this only closes the session's (no I/O).
            session.commit()


def _commit(session: Session) -> None:
    try:
        session.commit()
    except DBAPIError as exc:
        raise CommitFailed(exc) from exc


def open_writes(session: Session) -> Writes | None:
    """The session's open :class:`Writes`, if a caller opened one with :func:`writes`."""
    found: Writes | None = session.info.get(_SESSION_WRITES)
    return found


@contextmanager
def writes(session: Session) -> Iterator[Writes]:
    """Open a :class:`Writes` on ``session`` for the block (the caller sends it); an outer one
    already open is reused (and sent by its opener)."""
    outer = open_writes(session)
    if outer is not None:
        yield outer
        return
    buffer = Writes()
    session.info[_SESSION_WRITES] = buffer
    try:
        yield buffer
    finally:
        session.info.pop(_SESSION_WRITES, None)


@contextmanager
def batch(
    session: Session,
    writes: Writes | None,
    send: Callable[[Session, Writes], None] | None = None,
) -> Iterator[Writes]:
    """``writes`` when the caller passes one (the caller sends it), else a new :class:`Writes`
    sent by ``send`` (default: :meth:`Writes.send`) when the block ends without an error."""
    if writes is not None:
        yield writes
        return
    buffer = Writes()
    yield buffer
    if send is None:
        buffer.send(session)
    else:
        send(session, buffer)


_SQLITE_CONSTRAINT = re.compile(r"constraint failed: (\w+)\.")


def violated_table(error: IntegrityError) -> str | None:
    """The table whose constraint ``error`` violated: psycopg says so; SQLite names it in the
    message (``UNIQUE constraint failed: table.column``)."""
    table = getattr(getattr(error.orig, "diag", None), "table_name", None)
    if isinstance(table, str):
        return table
    found = _SQLITE_CONSTRAINT.search(str(error.orig))
    return found.group(1) if found else None
