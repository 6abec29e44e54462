"""Database kernel: the declarative base, engines, sessions and the unit-of-work boundary.

Services receive a :class:`~sqlalchemy.orm.Session` and never commit; the request or job boundary
(:func:`unit_of_work`, the web session dependency, a CLI command) commits or rolls back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations stay identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every table of every palmvein package."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no time zones and hands back naive values; this type refuses naive input and always
    returns aware UTC datetimes, so code compares timestamps the same way on both databases.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets the web server read while a job writes; foreign keys are off by default in SQLite.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


# A pooled server connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 10.0
_CHECKED_IN_AT = "palmvein.checked_in_at"


def _ping_if_idle(engine: Engine, idle_seconds: float) -> None:
    """Pessimistic disconnect handling for connections that sat idle in the pool.

    ``pool_pre_ping`` pings on every checkout: one more round trip per request (and, on
    psycopg, an autocommitted statement). A connection checked in moments ago was working
    moments ago; one that sat idle may have been closed by a server restart, a failover or a
    firewall. So only connections idle for ``idle_seconds`` or more are pinged; a dead one is
    replaced by a fresh connection before anyone uses it. A server that drops while connections
    are busy fails the statements in flight (as it did with pre-ping), and SQLAlchemy then
    invalidates the whole pool.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN_AT)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # just connected, or returned to the pool moments ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool retries the checkout with a new connection.
            raise DisconnectionError("pooled connection failed its ping") from exc


def create_db_engine(
    url: str, *, echo: bool = False, ping_after_idle: float = PING_AFTER_IDLE_SECONDS
) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL, foreign keys and its parent directory made.

    Statement parameters are never shown in errors or echo output. Server connections that sat
    idle in the pool for ``ping_after_idle`` seconds are pinged before use.
    """
    parsed = make_url(url)
    # Bound values (password hashes, PIN digests, template bytes) would otherwise be printed in
    # every database exception message and traceback, and from there reach the logs.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, **kwargs)
        _ping_if_idle(engine, ping_after_idle)
        return engine
    database = parsed.database or ""
    if database in ("", ":memory:"):
        # One shared connection, otherwise each pooled connection sees its own empty database.
        kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _configure_sqlite)
    return engine


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False so objects returned by a committed unit of work stay readable.
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session that is committed if the block succeeds and rolled back if it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> None:
    """Run a trivial query; raises the driver's error when the database is unreachable."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
