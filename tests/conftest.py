"""Fixtures shared by every test package.

Database tests take the ``db`` (a Session), ``db_engine`` or ``db_url`` fixture and run twice: on
SQLite and on the PostgreSQL server at 127.0.0.1:5432 (user ``postgres``, trust auth; override with
``PALMVEIN_TEST_POSTGRES_URL``). The schema is always made by the Alembic migrations: once per
backend and test session into a template, which each test then copies into a fresh database of
its own (a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), dropped after.
The PostgreSQL half is skipped, with the reason, only when nothing listens at that address; a
server that answers but refuses the connection fails the tests.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from palmvein import migrate
from palmvein.core.db import create_db_engine, create_session_factory

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from palmvein.core.settings import Settings

POSTGRES_URL = os.environ.get(
    "PALMVEIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")


def _pg_admin_conninfo() -> str:
    url = make_url(POSTGRES_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_url(database: str) -> str:
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


def _pg_execute(statement: str) -> None:
    with psycopg.connect(_pg_admin_conninfo(), autocommit=True, connect_timeout=3) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def _pg_drop(database: str) -> None:
    _pg_execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_available() -> str | None:
    """None if a PostgreSQL server answers, else why not.

    Only "nothing listens there" counts as unavailable: a server that answers but refuses the
    connection (wrong user, no trust auth) is a broken setup, and the tests fail loudly.
    """
    url = make_url(POSTGRES_URL)
    host, port = url.host or "127.0.0.1", url.port or 5432
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        return f"no PostgreSQL server answers at {host}:{port} ({exc.strerror or exc})"
    with psycopg.connect(_pg_admin_conninfo(), connect_timeout=5) as conn:
        conn.execute("SELECT 1")
    return None


@pytest.fixture(scope="session")
def _template_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Migrated template databases, made lazily per backend: backend -> SQLite path or PG name."""
    made: dict[str, str] = {}

    class Templates(dict[str, str]):
        def __missing__(self, backend: str) -> str:
            if backend == "sqlite":
                path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
                engine = create_db_engine(f"sqlite:///{path}")
                migrate.upgrade(engine)
                engine.dispose()
                value = str(path)
            else:
                value = f"palmvein_tpl_{secrets.token_hex(6)}"
                _pg_execute(f'CREATE DATABASE "{value}"')
                made["postgresql"] = value
                engine = create_db_engine(_pg_url(value))
                migrate.upgrade(engine)
                engine.dispose()
            self[backend] = value
            return value

    templates = Templates()
    yield templates
    if "postgresql" in made:
        _pg_drop(made["postgresql"])


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    if backend == "postgresql":
        reason = request.getfixturevalue("postgres_available")
        if reason is not None:
            pytest.skip(f"PostgreSQL half skipped: {reason}")
    return backend


@pytest.fixture
def empty_db_url(db_backend: str, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database with no schema at all (for migration tests)."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    name = f"palmvein_test_{secrets.token_hex(6)}"
    _pg_execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        _pg_drop(name)


@pytest.fixture
def db_url(db_backend: str, _template_databases: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database of its own for this test, schema made by the migrations."""
    template = _template_databases[db_backend]
    if db_backend == "sqlite":
        path = tmp_path / "palmvein.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    name = f"palmvein_test_{secrets.token_hex(6)}"
    _pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _pg_url(name)
    finally:
        _pg_drop(name)


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(db_engine: Engine) -> sessionmaker[Session]:
    return create_session_factory(db_engine)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session on a fresh migrated database; the test commits or not as it needs."""
    session = session_factory()
    yield session
    session.rollback()
    session.close()


class FakeClock:
    """A settable clock: ``clock()`` returns the current time, ``clock.advance(...)`` moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))


@pytest.fixture(autouse=True, scope="session")
def _json_logging() -> None:
    # The app logs JSON lines in production; tests use the same pipeline (and its redaction).
    from palmvein.log import configure_logging

    configure_logging(level="INFO", json=True)


# -- API fixtures -----------------------------------------------------------------------------

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
TEST_PASSWORD = "correct horse battery staple"


@pytest.fixture
def settings(db_url: str) -> Settings:
    from palmvein.core.settings import Settings

    return Settings(
        _env_file=None,
        environment="test",
        database_url=db_url,
        secret_key=TEST_SECRET,
        login_max_failures=3,
        login_window_seconds=600,
        login_lockout_seconds=300,
    )


@pytest.fixture
def app(settings: Settings, db_engine: Engine, clock: FakeClock) -> FastAPI:
    from palmvein.app import create_app

    return create_app(settings, engine=db_engine, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient

    # https, as in production: the session cookie is Secure and would not be sent over http.
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False
    ) as test_client:
        yield test_client


@pytest.fixture
def make_staff(session_factory: sessionmaker[Session], clock: FakeClock) -> Callable[..., int]:
    """Create a staff user (password ``TEST_PASSWORD``) and return its id."""
    from palmvein.core.db import unit_of_work
    from palmvein.core.security.roles import Role
    from palmvein.core.security.users import create_user

    def make(username: str, *roles: Role, password: str = TEST_PASSWORD) -> int:
        with unit_of_work(session_factory) as session:
            user = create_user(
                session,
                username=username,
                full_name=username.replace(".", " ").title(),
                password=password,
                roles=frozenset(roles),
                actor="test",
                now=clock(),
            )
            return user.id

    return make


@pytest.fixture
def bearer(settings: Settings, clock: FakeClock) -> Callable[[int], dict[str, str]]:
    """Authorization headers for a user id, signed like ``POST /auth/token`` would."""
    from palmvein.core.security.tokens import TokenKind, issue_token

    def headers(user_id: int) -> dict[str, str]:
        token, _ = issue_token(
            settings.secret_key.get_secret_value(),
            user_id=user_id,
            kind=TokenKind.ACCESS,
            now=clock(),
            lifetime=timedelta(minutes=settings.access_token_minutes),
        )
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Production Argon2 parameters cost ~50 ms per hash by design; tests create many users.
    # Same algorithm (argon2id), minimal cost. Tests of the hashing itself use the real hasher.
    from argon2 import PasswordHasher

    from palmvein.core.security import passwords

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
