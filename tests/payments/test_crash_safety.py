"""A process killed with SIGKILL in the middle of its work leaves the books exact.

The worker runs in a subprocess against the test's own database. It books batches of transfers
(one database transaction per batch, paused half-way so the kill lands inside one) and
authorises purchases with a hold committed before the capture, as a counter terminal does. The
test kills it at a random moment; afterwards no half batch exists, pending holds expire, and
every balance equals what the committed work says it should be.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from palmvein.core.money import Money
from payments import ledger
from payments.models import Hold, HoldStatus, Posting

from .conftest import Book, dzd

WORKER = r"""
import sys, time
from datetime import datetime, timedelta, UTC
from palmvein.core.db import create_db_engine, create_session_factory, unit_of_work
from palmvein.core.money import Money
from payments import ledger

url, payer, payee, shop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
factory = create_session_factory(create_db_engine(url))
now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
one = Money(100, "DZD")
for round_ in range(1000):
    with unit_of_work(factory) as session:
        for i in range(10):
            ledger.transfer(session, debit_account_id=payer, credit_account_id=payee,
                            amount=one, kind="batch", description="batch", now=now)
            if i == 5:
                print("mid-batch", flush=True)
                time.sleep(0.01)
    with unit_of_work(factory) as session:
        hold = ledger.place_hold(session, account_id=payer, credit_account_id=shop, amount=one,
                                 expires_at=now + timedelta(minutes=5), now=now)
    print("held", flush=True)
    time.sleep(0.005)
    with unit_of_work(factory) as session:
        ledger.capture_hold(session, hold.id, kind="purchase", description="p", now=now)
    print("captured", flush=True)
"""


# Line 4 is "mid-batch" of the second batch (killed inside a transaction of 10 transfers);
# line 8 is "held" of the third purchase (killed between hold and capture).
@pytest.mark.parametrize("kill_after_lines", [4, 8], ids=["mid-batch", "between-hold-and-capture"])
def test_sigkill_mid_operation_leaves_balances_exact(
    book: Book, db_url: str, kill_after_lines: int
) -> None:
    start = dzd("100000")
    book.fund(book.amina, start)
    book.session.commit()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            WORKER,
            db_url,
            str(book.amina.id),
            str(book.karim.id),
            str(book.shop.id),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert worker.stdout is not None
    seen = [worker.stdout.readline() for _ in range(kill_after_lines)]
    assert all(seen), f"worker ended early: {worker.stderr.read() if worker.stderr else ''}"
    time.sleep(random.Random(kill_after_lines).uniform(0, 0.01))
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL

    # Recovery: holds the dead worker authorised but never captured expire.
    later = book.now + timedelta(minutes=6)
    ledger.expire_holds(book.session, now=later)
    book.session.commit()

    transfers = book.session.scalar(
        select(func.count()).select_from(Posting).where(Posting.account_id == book.karim.id)
    )
    captured = book.session.scalar(
        select(func.coalesce(func.sum(Hold.captured_amount), 0)).where(
            Hold.status == HoldStatus.CAPTURED.value
        )
    )
    assert transfers is not None and transfers % 10 == 0, "a half batch was committed"
    assert book.available(book.karim) == Money(100 * transfers, "DZD")
    assert book.available(book.shop) == Money(int(captured or 0), "DZD")
    balance = ledger.balance_of(book.session, book.amina.id)
    assert balance.held == dzd("0")
    assert balance.ledger == start - book.available(book.karim) - book.available(book.shop)
    assert ledger.verify_ledger(book.session) == []
