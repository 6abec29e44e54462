"""Bank-paid salaries are settled by the bank file, once, and never released at a pay point.

The four-employee month with E000003 enrolled (subj-3) and paid by bank: before and after the
bank file, E000003's own palm at the pay point is refused and moves no money; producing the file
books the salary from the held account to bank clearing once, however often it is produced.
"""

from __future__ import annotations

import threading
from typing import Literal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import unit_of_work
from palmvein.core.errors import ValidationFailed
from palmvein.core.settings import Settings
from payments import ledger
from payments import service as payments_service
from payments.models import AccountKind, LedgerTransaction
from payroll import paypoint, reports, runs, transfers
from payroll.documents_service import BankFile, employer_from_settings, produce_bank_file
from payroll.errors import PaidByBankTransfer, RunNotFound, RunStateConflict
from payroll.models import (
    AttemptOutcome,
    Employee,
    PayChannel,
    Payment,
    PaymentStatus,
    Release,
    ReleaseChannel,
)
from payroll.release import release_payment

from .conftest import Office, enrol_person, four_employees
from .test_paypoint import Palm, claim
from .test_release_and_reports import payment_of
from .test_runs import approved_run, post_all


def balance(session: Session, account_id: int) -> int:
    return ledger.balance_of(session, account_id).ledger.minor


def produce(
    session: Session, run_id: int, office: Office, file_format: Literal["csv", "pain001"] = "csv"
) -> BankFile:
    return produce_bank_file(
        session, run_id, employer_from_settings(Settings()), file_format=file_format,
        actor="payroll.officer", now=office.now,
    )  # fmt: skip


@pytest.fixture
def bank_month(office: Office) -> int:
    four_employees(office)
    s = office.session
    enrol_person(s, "subj-3", office.now)
    s.execute(update(Employee).where(Employee.employee_number == "E000003")
              .values(subject_id="subj-3"))  # fmt: skip
    for subject in ("subj-1", "subj-3"):
        payments_service.open_wallet(s, person_id=subject, currency="DZD",
                                     phone="+213555000001", now=office.now)  # fmt: skip
    s.commit()
    run_id = approved_run(office)
    post_all(office, run_id)
    return run_id


def test_worked_example_bank_file_pays_once_and_the_palm_is_refused(
    office: Office, bank_month: int
) -> None:
    s = office.session
    run_id = bank_month
    bank, pay_point = payment_of(office, "E000003"), payment_of(office, "E000001")
    assert (bank.channel, pay_point.channel) == (PayChannel.BANK.value, PayChannel.PAY_POINT.value)
    net = bank.amount
    wallet = ledger.find_account(s, owner_type="person", owner_id="subj-3", kind=AccountKind.WALLET,
                                 currency="DZD")  # fmt: skip
    assert wallet is not None
    assert balance(s, bank.net_account_id) == net

    # Before the file: E000003's own palm at the pay point is refused; nothing moves.
    result = claim(office, "E000003", Palm("match", "subj-3"), ReleaseChannel.WALLET)
    assert result.outcome is AttemptOutcome.PAID_BY_BANK and result.released == ()
    assert "bank transfer" in (result.reason or "")
    assert balance(s, bank.net_account_id) == net and balance(s, wallet.id) == 0
    with pytest.raises(PaidByBankTransfer):
        release_payment(s, bank.id, channel=ReleaseChannel.CASH, released_by="x", now=office.now)
    s.rollback()
    unclaimed = reports.unclaimed(s, older_than_days=0, now=office.now)
    assert {(u.employee_number, u.channel) for u in unclaimed} == {
        ("E000001", "pay_point"), ("E000002", "pay_point"), ("E000003", "bank"),
    }  # fmt: skip

    first = produce(s, run_id, office)
    s.commit()
    assert (first.settlement.booked, first.settlement.booked_amount) == (1, net)
    clearing = transfers.clearing_account(s, "DZD", office.now)
    assert balance(s, bank.net_account_id) == 0 and balance(s, clearing) == net
    s.expire_all()
    paid = payment_of(office, "E000003")
    assert paid.status == PaymentStatus.TRANSFERRED.value
    assert (paid.transferred_by, paid.transfer_reference) == (
        "payroll.officer", f"PAYROLL-R{run_id}-2026-03",
    )  # fmt: skip
    assert paid.transferred_at == office.now and paid.transfer_transaction_id is not None

    # Producing it again (CSV or pain.001) books nothing more and lists the same transfer.
    office.clock.advance(hours=2)
    second = produce(s, run_id, office)
    third = produce(s, run_id, office, "pain001")
    s.commit()
    assert second.settlement.booked == third.settlement.booked == 0
    assert second.content == first.content and b"E000003" in third.content
    assert second.settlement.transferred_at == paid.transferred_at
    kinds = s.scalar(select(func.count()).select_from(LedgerTransaction)
                     .where(LedgerTransaction.kind == "payroll_bank_transfer"))  # fmt: skip
    assert kinds == 1
    assert balance(s, clearing) == net

    # After the file: still refused at the pay point, and not by a supervisor either.
    for _ in range(paypoint.MANUAL_RELEASE_AFTER):
        claim(office, "E000003", Palm("no_match", None))
    again = claim(office, "E000003", Palm("match", "subj-3"))
    assert again.outcome is AttemptOutcome.PAID_BY_BANK and again.manual_release_allowed
    with pytest.raises(PaidByBankTransfer):
        paypoint.manual_release(
            s, employee_number="E000003", supervisor="supervisor.karim", reason="scarred palm",
            channel=ReleaseChannel.WALLET, device_id="pp-device-1", pay_point="PP-X",
            now=office.now,
        )  # fmt: skip
    s.rollback()
    assert balance(s, wallet.id) == 0
    assert s.scalar(select(func.count()).select_from(Release)) == 0

    # The pay-point employee is unaffected: their own palm releases their salary.
    own = claim(office, "E000001", Palm("match", "subj-1"), ReleaseChannel.WALLET)
    assert own.outcome is AttemptOutcome.RELEASED and len(own.released) == 1

    unclaimed = reports.unclaimed(s, older_than_days=0, now=office.now)
    assert [u.employee_number for u in unclaimed] == ["E000002"]
    history = reports.release_history(s, "E000003")
    assert [(h.status, h.channel, h.released_by) for h in history] == [
        ("transferred", "bank", "payroll.officer")
    ]
    with pytest.raises(RunStateConflict, match="bank transfer file"):
        runs.cancel_run(s, run_id, actor="approver", reason="too late", now=office.now)
    s.rollback()
    assert ledger.verify_ledger(s) == []


def test_the_database_refuses_a_released_bank_salary(office: Office, bank_month: int) -> None:
    s = office.session
    bank_id = payment_of(office, "E000003").id
    with pytest.raises(IntegrityError):
        s.execute(update(Payment).where(Payment.id == bank_id).values(status="released"))
        s.flush()
    s.rollback()
    with pytest.raises(IntegrityError):  # transferred needs the booking, who and when
        s.execute(update(Payment).where(Payment.id == bank_id).values(status="transferred"))
        s.flush()
    s.rollback()


def test_an_unknown_bank_file_format_books_nothing(office: Office, bank_month: int) -> None:
    s = office.session
    with pytest.raises(ValidationFailed, match="unknown bank file format 'xls'"):
        produce(s, bank_month, office, "xls")  # type: ignore[arg-type]
    s.rollback()
    assert payment_of(office, "E000003").status == PaymentStatus.HELD.value
    assert transfers.bank_settlement(s, bank_month).transferred == 0


def test_no_bank_file_before_posting(office: Office) -> None:
    four_employees(office)
    run_id = approved_run(office)
    with pytest.raises(RunStateConflict, match="posted"):
        produce(office.session, run_id, office)


def test_concurrent_bank_files_and_palm_claims_pay_once(
    office: Office, bank_month: int, session_factory: sessionmaker[Session], db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite serialises on its file lock")
    run_id = bank_month
    bank = payment_of(office, "E000003")
    net, net_account = bank.amount, bank.net_account_id
    office.session.close()
    barrier = threading.Barrier(8)
    booked: list[int] = []
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def export() -> None:
        barrier.wait()
        try:
            with unit_of_work(session_factory) as session:
                booked.append(produce(session, run_id, office).settlement.booked)
        except Exception as exc:  # noqa: BLE001 - a thread reports its error to the test
            errors.append(exc)

    def palm_claim(n: int) -> None:
        barrier.wait()
        try:
            with unit_of_work(session_factory) as session:
                result = paypoint.claim_salary(
                    session, employee_number="E000003", decision=Palm("match", "subj-3"),
                    channel=ReleaseChannel.WALLET, device_id=f"dev-{n}", pay_point="PP-X",
                    cashier=f"cashier-{n}", now=office.now,
                )  # fmt: skip
                outcomes.append(result.outcome.value)
        except Exception as exc:  # noqa: BLE001 - a thread reports its error to the test
            errors.append(exc)

    threads = [threading.Thread(target=export) for _ in range(4)]
    threads += [threading.Thread(target=palm_claim, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(booked) == [0, 0, 0, 1]
    assert outcomes == ["paid_by_bank"] * 4
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Release)) == 0
        assert balance(s, net_account) == 0
        assert balance(s, transfers.clearing_account(s, "DZD", office.now)) == net
        wallet = ledger.find_account(s, owner_type="person", owner_id="subj-3", kind=AccountKind.WALLET,
                                     currency="DZD")  # fmt: skip
        assert wallet is not None and balance(s, wallet.id) == 0
        assert ledger.verify_ledger(s) == []


def test_worked_example_release_progress(office: Office, bank_month: int) -> None:
    """Nets (test_runs): E000001 36 637.85 and E000002 30 418.10 at the pay point, E000003
    37 984.20 by bank. Progress counts and sums follow a release and the bank file, and only
    this run's payments count (another month's run, cancelled, has none left)."""
    s = office.session
    run_id = bank_month
    T = runs.Tally

    def progress() -> runs.ReleaseProgress:
        found = runs.release_progress(s, run_id)
        assert found.currency == "DZD" and found.run_id == run_id
        # The same figures as the page's former assembly (unclaimed report + settlement).
        held = [u for u in reports.unclaimed(s, older_than_days=0, now=office.now)
                if u.run_id == run_id]  # fmt: skip
        bank_held = sum(1 for u in held if u.channel == "bank")
        settled = transfers.bank_settlement(s, run_id)
        assert (found.held.count, found.bank_held.count) == (len(held) - bank_held, bank_held)
        assert (found.transferred.count, found.transferred.amount) == (
            settled.transferred, settled.transferred_amount,
        )  # fmt: skip
        assert found.posted.count == runs.summarize(s, run_id).posted
        return found

    # Another month's run, posted then cancelled: its reversed payments count nowhere.
    other = runs.open_run(s, period="2026-04", currency="DZD", actor="officer", now=office.now)
    runs.compute_run(s, other.id, actor="officer", now=office.now)
    runs.submit_run(s, other.id, actor="officer", now=office.now)
    runs.approve_run(s, other.id, actor="approver", now=office.now)
    s.commit()
    post_all(office, other.id)
    assert runs.release_progress(s, other.id).posted == T(3, 10504015)
    runs.cancel_run(s, other.id, actor="approver", reason="duplicate", now=office.now)
    s.commit()
    assert runs.release_progress(s, other.id).posted == T()

    first = progress()
    assert first == runs.ReleaseProgress(
        run_id, "DZD", released=T(), transferred=T(),
        held=T(2, 3663785 + 3041810), bank_held=T(1, 3798420),
    )  # fmt: skip
    assert (first.paid, first.posted) == (T(), T(3, 10504015))

    first_salary = s.scalar(
        select(Payment.id).join(Employee, Employee.id == Payment.employee_id)
        .where(Payment.run_id == run_id, Employee.employee_number == "E000001")
    )  # fmt: skip
    assert first_salary is not None
    release_payment(s, first_salary, channel=ReleaseChannel.WALLET, released_by="cashier",
                    now=office.now)  # fmt: skip
    s.commit()
    after_release = progress()
    assert (after_release.released, after_release.held) == (T(1, 3663785), T(1, 3041810))
    assert after_release.bank_held == T(1, 3798420) and after_release.transferred == T()

    produce(s, run_id, office)
    s.commit()
    done = progress()
    assert (done.transferred, done.bank_held) == (T(1, 3798420), T())
    assert done.paid == T(2, 3663785 + 3798420) and done.posted == T(3, 10504015)
    assert done.as_dict()["paid"] == {"count": 2, "amount": "74622.05"}
    assert done.as_dict()["held"] == {"count": 1, "amount": "30418.10"}


def test_release_progress_of_a_missing_run(office: Office) -> None:
    with pytest.raises(RunNotFound):
        runs.release_progress(office.session, 404)
