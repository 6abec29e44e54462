"""Proof on PostgreSQL: many workers draining one wallet at once never overdraw it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import unit_of_work
from palmvein.core.money import Money
from payments import ledger
from payments.errors import InsufficientFunds

from .conftest import Book, dzd

WORKERS = 8


def _require_postgresql(book: Book) -> None:
    if book.session.get_bind().dialect.name != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL; SQLite serialises all writers")


def test_concurrent_purchases_drain_a_wallet_exactly(
    book: Book, session_factory: sessionmaker[Session]
) -> None:
    # 500 DZD, purchases of 7 DZD (hold then capture) and transfers of 3 DZD from 8 threads,
    # each also paying a 0.50 DZD fee: the wallet must end at exactly what the
    # successful operations leave, never below zero.
    _require_postgresql(book)
    start = dzd("500")
    book.fund(book.amina, start)
    book.session.commit()
    purchase, transfer, fee = dzd("7"), dzd("3"), dzd("0.50")
    counts = {"purchases": 0, "transfers": 0}
    lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(WORKERS)

    def worker(index: int) -> None:
        barrier.wait()
        try:
            while True:
                with unit_of_work(session_factory) as session:
                    if index % 2:
                        hold = ledger.place_hold(
                            session,
                            account_id=book.amina.id,
                            credit_account_id=book.shop.id,
                            amount=purchase,
                            expires_at=book.now + timedelta(minutes=5),
                            now=book.now,
                        )
                        ledger.capture_hold(
                            session,
                            hold.id,
                            kind="purchase",
                            description="concurrent purchase",
                            now=book.now,
                            extra_legs=[
                                ledger.Leg(book.amina.id, -fee),
                                ledger.Leg(book.fees.id, fee),
                            ],
                        )
                        name = "purchases"
                    else:
                        ledger.post(
                            session,
                            [
                                ledger.Leg(book.amina.id, -(transfer + fee)),
                                ledger.Leg(book.karim.id, transfer),
                                ledger.Leg(book.fees.id, fee),
                            ],
                            kind="p2p",
                            description="concurrent transfer",
                            now=book.now,
                        )
                        name = "transfers"
                with lock:
                    counts[name] += 1
        except InsufficientFunds:
            return
        except BaseException as exc:  # noqa: BLE001  (re-raised by the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    spent = purchase * counts["purchases"] + transfer * counts["transfers"]
    fees = fee * (counts["purchases"] + counts["transfers"])
    remaining = book.available(book.amina)
    assert remaining == start - spent - fees
    assert Money.zero("DZD") <= remaining < purchase + fee
    assert book.available(book.shop) == purchase * counts["purchases"]
    assert book.available(book.karim) == transfer * counts["transfers"]
    assert book.available(book.fees) == fees
    assert counts["purchases"] > 0 and counts["transfers"] > 0
    assert ledger.verify_ledger(book.session) == []


def test_opposite_transfers_do_not_deadlock(
    book: Book, session_factory: sessionmaker[Session]
) -> None:
    # Amina -> Karim and Karim -> Amina at once: locks are taken in account-id order, so the
    # workers queue instead of deadlocking (PostgreSQL would abort one with a deadlock error).
    _require_postgresql(book)
    book.fund(book.amina, dzd("100"))
    book.fund(book.karim, dzd("100"))
    book.session.commit()
    errors: list[BaseException] = []
    barrier = threading.Barrier(WORKERS)

    def worker(index: int) -> None:
        source, target = (book.amina, book.karim) if index % 2 else (book.karim, book.amina)
        barrier.wait()
        try:
            for _ in range(25):
                with unit_of_work(session_factory) as session:
                    ledger.transfer(
                        session,
                        debit_account_id=source.id,
                        credit_account_id=target.id,
                        amount=dzd("1"),
                        kind="p2p",
                        description="ping-pong",
                        now=book.now,
                    )
        except BaseException as exc:  # noqa: BLE001  (re-raised by the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert book.available(book.amina) == dzd("100")
    assert book.available(book.karim) == dzd("100")
    assert ledger.verify_ledger(book.session) == []
