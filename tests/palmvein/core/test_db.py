from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import create_db_engine, ping, unit_of_work
from palmvein.core.security.users import StaffUser, StaffUserRole


def _user(username: str) -> StaffUser:
    return StaffUser(
        username=username,
        full_name=username.title(),
        password_hash="not-a-real-hash",
        is_active=True,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_sqlite_file_database_uses_wal_and_enforces_foreign_keys(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'palmvein.sqlite3'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert (tmp_path / "nested" / "dir").is_dir()
    engine.dispose()


def test_in_memory_sqlite_is_one_shared_database() -> None:
    engine = create_db_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_ping_succeeds_on_a_live_database(db_engine: Engine) -> None:
    ping(db_engine)


def test_foreign_keys_are_enforced(db: Session) -> None:
    db.add(StaffUserRole(user_id=424242, role="admin"))
    with pytest.raises(IntegrityError):
        db.flush()


def test_unit_of_work_commits_on_success(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        session.add(_user("amina"))
    with session_factory() as session:
        assert session.query(StaffUser).filter_by(username="amina").count() == 1


def test_unit_of_work_rolls_back_when_the_block_raises(
    session_factory: sessionmaker[Session],
) -> None:
    with pytest.raises(RuntimeError), unit_of_work(session_factory) as session:
        session.add(_user("karim"))
        session.flush()
        raise RuntimeError("job failed half way")
    with session_factory() as session:
        assert session.query(StaffUser).filter_by(username="karim").count() == 0


def test_timestamps_come_back_aware_utc_on_every_backend(db: Session) -> None:
    algiers = timezone(timedelta(hours=1))
    user = _user("yacine")
    user.created_at = datetime(2026, 5, 1, 9, 30, tzinfo=algiers)
    db.add(user)
    db.commit()
    db.expire_all()
    loaded = db.query(StaffUser).filter_by(username="yacine").one()
    assert loaded.created_at == datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    assert loaded.created_at.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(db: Session) -> None:
    user = _user("naive")
    user.created_at = datetime(2026, 5, 1, 9, 30)
    db.add(user)
    with pytest.raises(Exception, match="naive datetime"):
        db.flush()


def test_database_errors_never_show_the_values_involved(db: Session) -> None:
    secret_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0LXNhbHQ$secret-digest"
    for _ in range(2):
        user = _user("duplicate")
        user.password_hash = secret_hash
        db.add(user)
    with pytest.raises(IntegrityError) as raised:
        db.flush()
    assert "secret-digest" not in str(raised.value)
    assert "hidden due to hide_parameters" in str(raised.value)


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.fixture
def server_url(db_url: str, db_backend: str) -> str:
    """A PostgreSQL database's URL (pings are for server connections: SQLite has none)."""
    if db_backend != "postgresql":
        pytest.skip("SQLite has no server connection to ping")
    return db_url


def test_an_idle_pooled_connection_the_server_closed_is_replaced_before_use(
    server_url: str,
) -> None:
    db_url = server_url
    engine = create_db_engine(db_url, ping_after_idle=0.0)
    other = create_db_engine(db_url)
    try:
        first = _backend_pid(engine)  # now idle in the pool
        with other.connect() as connection:  # a server restart or firewall would do the same
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        assert _backend_pid(engine) != first  # pinged, found dead, replaced: no error
    finally:
        engine.dispose()
        other.dispose()


def test_a_connection_returned_moments_ago_is_not_pinged_again(server_url: str) -> None:
    engine = create_db_engine(server_url, ping_after_idle=3600.0)
    pings: list[object] = []
    original = engine.dialect.do_ping
    engine.dialect.do_ping = lambda dbapi_connection: (
        pings.append(1)
        or original(  # type: ignore[method-assign]
            dbapi_connection
        )
    )
    try:
        for _ in range(3):
            _backend_pid(engine)
        assert pings == []
    finally:
        engine.dispose()
