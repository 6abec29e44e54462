"""Throughput and latency of the payments services on a real database, beside a baseline of
plain single-row inserts measured in the same run (what the database and machine allow at all).

This drives the service layer directly, one database transaction per operation, from several
threads; an HTTP benchmark adds the web stack on top and belongs to the composition root
(``palmvein bench payments``), which can reuse :func:`measure` with its own operation callables.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import create_session_factory, unit_of_work
from palmvein.core.money import Money
from payments import ledger, service
from payments.policy import DEFAULT_POLICY, PaymentsPolicy


@dataclass(frozen=True)
class Timing:
    name: str
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        return (
            f"{self.name:<22} {self.count:>6} ops {self.per_second:>9.1f}/s "
            f"p50 {self.p50_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms"
        )


def measure(name: str, operations: int, workers: int, run_one: Callable[[int], None]) -> Timing:
    """Run ``run_one(i)`` for i in range(operations) on ``workers`` threads; time each call."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(operations))
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            start = time.perf_counter()
            try:
                run_one(index)
            except BaseException as exc:  # noqa: BLE001  (reported after the run)
                errors.append(exc)
                return
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{name}: {len(errors)} operation(s) failed") from errors[0]
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0
    return Timing(
        name=name,
        count=len(latencies),
        seconds=seconds,
        p50_ms=1000 * (statistics.median(ordered) if ordered else 0.0),
        p99_ms=1000 * p99,
    )


def _baseline(engine: Engine, operations: int, workers: int) -> Timing:
    # A regular (logged) table, so each commit pays the same WAL flush a payment pays.
    table = f"payments_bench_{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        connection.execute(text(f"CREATE TABLE {table} (n BIGINT, amount BIGINT)"))

    def insert_one(index: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                text(f"INSERT INTO {table} (n, amount) VALUES (:n, :amount)"),
                {"n": index, "amount": index},
            )

    try:
        return measure("baseline single insert", operations, workers, insert_one)
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE {table}"))


@dataclass(frozen=True)
class BenchAccounts:
    wallets: list[int]
    merchants: list[int]


def open_accounts(
    factory: sessionmaker[Session],
    *,
    wallets: int = 200,
    merchants: int = 20,
    policy: PaymentsPolicy = DEFAULT_POLICY,
) -> BenchAccounts:
    """Fresh funded wallets and merchant accounts (existing data is untouched)."""
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    with unit_of_work(factory) as session:
        agent = service.open_agent_account(
            session, agent_id=f"bench-{tag}", currency="DZD", now=now
        )
        wallet_ids = [
            service.open_wallet(
                session,
                person_id=f"bench-{tag}-{i}",
                currency="DZD",
                phone="+213555000000",
                now=now,
            ).id
            for i in range(wallets)
        ]
        shop_ids = [
            service.open_merchant_account(
                session, merchant_id=f"bench-{tag}-{i}", currency="DZD", now=now
            ).id
            for i in range(merchants)
        ]
        service.fund_agent(
            session,
            policy,
            agent_account_id=agent.id,
            amount=Money(10**14, "DZD"),
            initiator="bench",
            now=now,
        )
        # Every fee account a busy deployment has, opened before the clock runs (otherwise the
        # first payment into each of them pays for opening it during the measurement).
        for shard in range(ledger.FEE_SHARDS):
            ledger.fee_account(session, "DZD", now, spread_by=shard)
        for wallet_id in wallet_ids:
            service.cash_in(
                session,
                policy,
                agent_account_id=agent.id,
                wallet_account_id=wallet_id,
                amount=Money(10**9, "DZD"),
                initiator="bench",
                now=now,
            )
    return BenchAccounts(wallet_ids, shop_ids)


def run(
    engine: Engine,
    *,
    operations: int = 2000,
    workers: int = 4,
    wallets: int = 200,
    merchants: int = 20,
    policy: PaymentsPolicy = DEFAULT_POLICY,
    seed: int = 0,
) -> list[Timing]:
    """Baseline inserts, P2P transfers and palm-less purchases (hold + capture), each
    ``operations`` times, on a migrated database (new accounts; existing data is untouched)."""
    factory: sessionmaker[Session] = create_session_factory(engine)
    accounts = open_accounts(factory, wallets=wallets, merchants=merchants, policy=policy)
    wallet_ids, shop_ids = accounts.wallets, accounts.merchants
    rng = random.Random(seed)
    pairs = [tuple(rng.sample(wallet_ids, 2)) for _ in range(operations)]
    buys = [(rng.choice(wallet_ids), rng.choice(shop_ids)) for _ in range(operations)]
    amount = Money(10_000, "DZD")

    def transfer(index: int) -> None:
        payer, payee = pairs[index]
        with unit_of_work(factory) as session:
            service.transfer_p2p(
                session,
                policy,
                from_wallet_id=payer,
                to_wallet_id=payee,
                amount=amount,
                initiator="bench",
                now=datetime.now(UTC),
            )

    def purchase(index: int) -> None:
        payer, shop = buys[index]
        with unit_of_work(factory) as session:
            service.purchase(
                session,
                policy,
                payer_wallet_id=payer,
                merchant_account_id=shop,
                amount=amount,
                initiator="bench",
                now=datetime.now(UTC),
            )

    return [
        _baseline(engine, operations, workers),
        measure("p2p transfer", operations, workers, transfer),
        measure("purchase (hold+capture)", operations, workers, purchase),
    ]
