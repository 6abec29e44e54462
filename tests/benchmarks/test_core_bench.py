"""Throughput of the shared kernel: audit appends and verification, money arithmetic.

Run with ``make bench``; in ``make test`` each benchmark runs once, unmeasured, as a smoke test.
"""

from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from sqlalchemy.orm import Session, sessionmaker

from palmvein import migrate
from palmvein.core import audit
from palmvein.core.db import create_db_engine, create_session_factory
from palmvein.core.money import Money

AUDIT_ROWS = 2000


@pytest.fixture
def sqlite_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'bench.sqlite3'}")
    migrate.upgrade(engine)
    yield create_session_factory(engine)
    engine.dispose()


def test_audit_append_100_rows_per_commit(
    benchmark: BenchmarkFixture, sqlite_sessions: sessionmaker[Session]
) -> None:
    serial = count()

    def append_batch() -> None:
        with sqlite_sessions.begin() as session:
            for _ in range(100):
                n = next(serial)
                audit.record(
                    session,
                    actor="bench",
                    action="payslip.issued",
                    entity_type="payslip",
                    entity_id=str(n),
                    data={"net_minor": 4_500_000 + n, "currency": "DZD"},
                )

    benchmark(append_batch)
    with sqlite_sessions() as session:
        assert audit.verify_chain(session).ok


def test_audit_verify_2000_rows(
    benchmark: BenchmarkFixture, sqlite_sessions: sessionmaker[Session]
) -> None:
    with sqlite_sessions.begin() as session:
        for n in range(AUDIT_ROWS):
            audit.record(
                session,
                actor="bench",
                action="payslip.issued",
                entity_type="payslip",
                entity_id=str(n),
                data={"net_minor": n},
            )

    def verify() -> audit.ChainReport:
        with sqlite_sessions() as session:
            return audit.verify_chain(session)

    report = benchmark(verify)
    assert report.ok and report.rows == AUDIT_ROWS


def test_money_allocate_payroll_of_1000_employees(benchmark: BenchmarkFixture) -> None:
    budget = Money.of("45000000.00", "DZD")
    weights = [50_000 + 37 * i for i in range(1000)]
    parts = benchmark(budget.allocate, weights)
    assert sum(p.minor for p in parts) == budget.minor
