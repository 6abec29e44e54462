"""A posting killed with SIGKILL in the middle resumes with no duplicate and no missing posting.

The worker posts an approved run in batches (one database transaction per batch) in a
subprocess; the test kills it at a random moment after a few batches, resumes the posting in
this process, and checks every employee was booked exactly once and the books add up.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from payments import ledger
from payroll import booking, jobs, runs
from payroll.models import Loan, Payment, Payslip, RunStatus
from payroll.sample import employee_rows
from payroll.structures import Liability

from .conftest import Office

WORKER = r"""
import sys
from datetime import datetime, UTC
from palmvein.core.db import create_db_engine, create_session_factory
from payroll import jobs

url, run_id = sys.argv[1], int(sys.argv[2])
factory = create_session_factory(create_db_engine(url))
now = datetime(2026, 3, 25, 8, 0, tzinfo=UTC)
jobs.post_run(factory, run_id, actor="approver", now=lambda: now, batch_size=40,
              on_progress=lambda n: print("batch", n, flush=True))
print("done", flush=True)
"""


@pytest.mark.parametrize("kill_after_batches", [1, 4])
def test_sigkill_mid_posting_resumes_exactly_once(
    office: Office, db_url: str, session_factory: sessionmaker[Session], kill_after_batches: int
) -> None:
    office.import_rows(employee_rows(600, seed=11))
    s = office.session
    run = runs.open_run(s, period="2026-03", currency="DZD", actor="officer", now=office.now)
    summary = runs.compute_run(s, run.id, actor="officer", now=office.now)
    runs.submit_run(s, run.id, actor="officer", now=office.now)
    runs.approve_run(s, run.id, actor="approver", now=office.now)
    s.commit()
    loans_before = int(s.scalar(select(func.sum(Loan.remaining))) or 0)

    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, db_url, str(run.id)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert worker.stdout is not None
    seen = [worker.stdout.readline() for _ in range(kill_after_batches)]
    assert all(line.startswith("batch") for line in seen), (
        worker.stderr.read() if worker.stderr else ""
    )
    time.sleep(random.Random(kill_after_batches).uniform(0, 0.05))
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL

    s.expire_all()
    interrupted = runs.summarize(s, run.id)
    assert interrupted.status == RunStatus.POSTING
    assert 0 < interrupted.posted < summary.payable, "the kill should land mid-posting"
    assert interrupted.posted % 40 == 0, "a half batch was committed"

    now = datetime(2026, 3, 25, 9, 0, tzinfo=UTC)
    resumed = jobs.post_run(session_factory, run.id, actor="approver", now=lambda: now)
    assert resumed.status == RunStatus.POSTED
    assert resumed.posted == summary.payable
    assert resumed.posted_net == summary.net

    s.expire_all()
    per_employee = Counter(s.scalars(select(Payment.employee_id).where(Payment.run_id == run.id)))
    payable = set(
        s.scalars(select(Payslip.employee_id).where(Payslip.run_id == run.id, Payslip.payable))
    )
    assert set(per_employee) == payable and set(per_employee.values()) == {1}
    for payment, net in s.execute(
        select(Payment, Payslip.net).join(
            Payslip,
            (Payslip.run_id == Payment.run_id) & (Payslip.employee_id == Payment.employee_id),
        )
    ):
        assert ledger.balance_of(s, payment.net_account_id).ledger.minor == net == payment.amount
    funding = booking.funding_account(s, "DZD", now)
    assert ledger.balance_of(s, funding).ledger.minor == -(
        summary.gross + summary.employer_contributions
    )
    loan_total = booking.liability_accounts(s, "DZD", now)
    repaid = ledger.balance_of(s, loan_total[Liability.LOAN]).ledger.minor
    assert int(s.scalar(select(func.sum(Loan.remaining))) or 0) == loans_before - repaid
    assert ledger.verify_ledger(s) == []
