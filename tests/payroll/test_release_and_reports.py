"""Release exactly once (also under concurrent attempts), and the control reports."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import unit_of_work
from payments import ledger
from payments import service as payments_service
from payroll import reports, runs
from payroll.errors import AlreadyReleased, RunStateConflict
from payroll.models import Employee, Payment, Release, ReleaseChannel
from payroll.release import release_payment

from .conftest import Office, enrol_person, four_employees
from .test_runs import approved_run, post_all


def payment_of(office: Office, number: str) -> Payment:
    payment = office.session.scalars(
        select(Payment)
        .join(Employee, Employee.id == Payment.employee_id)
        .where(Employee.employee_number == number)
    ).one()
    return payment


@pytest.fixture
def posted(office: Office) -> int:
    four_employees(office)
    payments_service.open_wallet(
        office.session, person_id="subj-1", currency="DZD", phone="+213555000001", now=office.now
    )
    run_id = approved_run(office)
    post_all(office, run_id)
    return run_id


def test_release_to_wallet_then_never_again(office: Office, posted: int) -> None:
    s = office.session
    payment = payment_of(office, "E000001")
    release_payment(s, payment.id, channel=ReleaseChannel.WALLET, released_by="pp-1",
                    device_id="dev-7", now=office.now)  # fmt: skip
    s.commit()
    wallet = ledger.find_account(s, owner_type="person", owner_id="subj-1",
                                 kind=ledger.AccountKind.WALLET, currency="DZD")  # fmt: skip
    assert wallet is not None and ledger.balance_of(s, wallet.id).ledger.minor == 3_663_785
    assert ledger.balance_of(s, payment.net_account_id).ledger.minor == 0
    with pytest.raises(AlreadyReleased):
        release_payment(s, payment.id, channel=ReleaseChannel.CASH, released_by="pp-1",
                        now=office.now)  # fmt: skip
    s.rollback()
    with pytest.raises(RunStateConflict, match="already released"):
        runs.cancel_run(s, posted, actor="approver", reason="late", now=office.now)
    s.rollback()
    assert ledger.verify_ledger(s) == []


def test_concurrent_releases_of_one_salary_pay_once(
    office: Office, posted: int, session_factory: sessionmaker[Session], db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite serialises on its file lock")
    payment_id = payment_of(office, "E000002").id  # paid at a pay point (no account)
    office.session.close()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            with unit_of_work(session_factory) as session:
                release_payment(session, payment_id, channel=ReleaseChannel.CASH,
                                released_by=f"cashier-{n}", device_id=f"dev-{n}",
                                now=office.now)  # fmt: skip
            outcomes.append("released")
        except AlreadyReleased:
            outcomes.append("already")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already"] * 7 + ["released"]
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Release)) == 1
        assert ledger.verify_ledger(s) == []


def test_reports(office: Office, posted: int) -> None:
    s = office.session
    # E000001 collects; the others leave their salaries untouched for 45 days.
    release_payment(s, payment_of(office, "E000001").id, channel=ReleaseChannel.CASH,
                    released_by="supervisor", supervisor_override_reason="scanner broken",
                    now=office.now)  # fmt: skip
    s.commit()
    later = office.now + timedelta(days=45)
    unclaimed = reports.unclaimed(s, older_than_days=30, now=later)
    assert [(u.employee_number, u.amount, u.days_unclaimed) for u in unclaimed] == [
        ("E000002", "30418.10", 45),
        ("E000003", "37984.20", 45),
    ]
    assert reports.unclaimed(s, older_than_days=60, now=later) == []

    assert reports.shared_palms(s) == []
    enrol_person(s, "subj-x", office.now)
    s.execute(
        Employee.__table__.update()
        .where(Employee.employee_number.in_(["E000002", "E000003"]))
        .values(subject_id="subj-x")
    )
    s.commit()
    assert [(p.subject_id, p.employee_numbers) for p in reports.shared_palms(s)] == [
        ("subj-x", ("E000002", "E000003"))
    ]
    s.execute(
        Employee.__table__.update()
        .where(Employee.employee_number == "E000003")
        .values(subject_id=None)
    )
    assert [(n.employee_number, n.reason) for n in reports.never_enrolled(s)] == [
        ("E000003", "no palm linked")
    ]
    history = reports.release_history(s, "E000001")
    assert [(h.period, h.amount, h.status, h.channel, h.supervisor_override_reason)
            for h in history] == [("2026-03", "36637.85", "released", "cash", "scanner broken")]  # fmt: skip
    assert reports.as_rows(history)[0]["released_at"].startswith("2026-03-01")
