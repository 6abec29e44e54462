"""A payroll month end to end on both databases: compute, maker-checker, post, cancel."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from palmvein.core.audit import AuditEntry, verify_chain
from palmvein.core.money import Money
from payments import ledger
from payments.models import Account
from payroll import booking, runs
from payroll.errors import MakerCheckerViolation, RunStateConflict
from payroll.models import Employee, Loan, Payment, PaymentStatus, Payslip, RunStatus
from payroll.sample import employee_rows
from payroll.structures import Liability

from .conftest import Office, four_employees


def dzd(major: str) -> int:
    return Money.of(major, "DZD").minor


def balance(office: Office, account_id: int) -> int:
    return ledger.balance_of(office.session, account_id).ledger.minor


def approved_run(office: Office) -> int:
    s = office.session
    run = runs.open_run(s, period="2026-03", currency="DZD", actor="officer", now=office.now)
    runs.compute_run(s, run.id, actor="officer", now=office.now)
    runs.submit_run(s, run.id, actor="officer", now=office.now)
    runs.approve_run(s, run.id, actor="approver", now=office.now)
    s.commit()
    return run.id


def post_all(office: Office, run_id: int, batch_size: int = 2) -> None:
    s = office.session
    runs.start_posting(s, run_id, actor="approver", now=office.now)
    s.commit()
    while runs.post_batch(s, run_id, now=office.now, batch_size=batch_size):
        s.commit()
    assert runs.finish_posting(s, run_id, actor="approver", now=office.now)
    s.commit()


def test_preview_lists_every_payslip_and_problem(office: Office) -> None:
    four_employees(office)
    s = office.session
    run = runs.open_run(s, period="2026-03", currency="DZD", actor="officer", now=office.now)
    summary = runs.compute_run(s, run.id, actor="officer", now=office.now)
    assert (summary.employees, summary.payable, summary.excluded) == (4, 3, 1)
    # Nets worked out in test_structures: 36 637.85 + 30 418.10 + 37 984.20
    assert summary.net == dzd("105040.15")
    assert summary.gross == dzd("137000")
    assert summary.problem_counts == {"no_account": 2, "not_enrolled": 1, "suspended": 1}
    kinds = {(p.employee_number, p.kind.value, p.blocking) for p in summary.problems}
    assert kinds == {
        ("E000001", "no_account", False),
        ("E000002", "no_account", False),
        ("E000003", "not_enrolled", False),
        ("E000004", "suspended", True),
    }


def test_maker_cannot_approve_their_own_run(office: Office) -> None:
    four_employees(office)
    s = office.session
    run = runs.open_run(s, period="2026-03", currency="DZD", actor="officer", now=office.now)
    runs.compute_run(s, run.id, actor="officer", now=office.now)
    with pytest.raises(RunStateConflict, match="approve needs submitted"):
        runs.approve_run(s, run.id, actor="approver", now=office.now)
    runs.submit_run(s, run.id, actor="officer", now=office.now)
    with pytest.raises(MakerCheckerViolation, match="cannot approve"):
        runs.approve_run(s, run.id, actor="officer", now=office.now)
    runs.approve_run(s, run.id, actor="approver", now=office.now)
    s.commit()
    assert runs.get_run(s, run.id).status == RunStatus.APPROVED.value


def test_posting_books_gross_to_net_and_holds_net_per_employee(office: Office) -> None:
    four_employees(office)
    run_id = approved_run(office)
    post_all(office, run_id)
    s = office.session
    summary = runs.summarize(s, run_id)
    assert summary.status == RunStatus.POSTED and summary.posted == 3
    funding = booking.funding_account(s, "DZD", office.now)
    owed = booking.liability_accounts(s, "DZD", office.now)
    # gross 137 000 + employer social security 26 % of (49 500 + 33 000 + 44 000) = 32 890
    assert balance(office, funding) == -dzd("169890")
    assert balance(office, owed[Liability.TAX]) == dzd("15574.85")  # 6 907.15 + 3 111.90 + 5 555.80
    assert balance(office, owed[Liability.SOCIAL_SECURITY]) == dzd("44275")  # 11 385 + 32 890
    assert balance(office, owed[Liability.LOAN]) == dzd("5000")
    nets = {
        e.employee_number: balance(office, p.net_account_id)
        for p, e in s.execute(
            select(Payment, Employee).join(Employee, Employee.id == Payment.employee_id)
        )
    }
    assert nets == {
        "E000001": dzd("36637.85"),
        "E000002": dzd("30418.10"),
        "E000003": dzd("37984.20"),
    }
    assert s.scalar(select(Loan.remaining)) == dzd("7000")  # 12 000 - 5 000
    assert ledger.verify_ledger(s) == []
    actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
    for step in ("open", "computed", "submitted", "approved", "posting", "posted"):
        assert f"payroll.run.{step}" in actions
    assert verify_chain(s).ok


def test_the_database_refuses_a_second_payment_for_the_period(office: Office) -> None:
    four_employees(office)
    run_id = approved_run(office)
    post_all(office, run_id)
    s = office.session
    with pytest.raises(RunStateConflict, match="already covers 2026-03"):
        runs.open_run(s, period="2026-03", currency="DZD", actor="officer", now=office.now)
    paid = s.scalars(select(Payment)).first()
    assert paid is not None
    s.add(
        Payment(
            run_id=paid.run_id,
            employee_id=paid.employee_id,
            period="2026-03",
            currency="DZD",
            amount=1,
            net_account_id=paid.net_account_id,
            transaction_id=paid.transaction_id,
            status="held",
            posted_at=office.now,
        )
    )
    with pytest.raises(IntegrityError):
        s.flush()
    s.rollback()


def test_cancel_reverses_with_new_entries_and_the_month_can_be_paid_again(office: Office) -> None:
    four_employees(office)
    run_id = approved_run(office)
    post_all(office, run_id)
    s = office.session
    runs.cancel_run(s, run_id, actor="approver", reason="wrong month", now=office.now)
    s.commit()
    assert runs.get_run(s, run_id).status == RunStatus.CANCELLED.value
    statuses = set(s.scalars(select(Payment.status)))
    assert statuses == {PaymentStatus.REVERSED.value}
    payroll_accounts = s.scalars(
        select(Account).where(Account.owner_type.in_([booking.OWNER, booking.NET_OWNER]))
    ).all()
    assert payroll_accounts and all(a.balance == 0 for a in payroll_accounts)
    assert s.scalar(select(Loan.remaining)) == dzd("12000")
    assert ledger.verify_ledger(s) == []
    # The reversed payments no longer count: a new run pays March again.
    again = approved_run(office)
    post_all(office, again)
    assert runs.summarize(s, again).posted == 3
    with pytest.raises(RunStateConflict, match="cannot cancel"):
        runs.cancel_run(s, run_id, actor="approver", reason="twice", now=office.now)


def test_borrowers_with_equal_loans_each_repay_their_own(office: Office) -> None:
    """Payslips are shared between employees with equal inputs; each loan line still names the
    employee's own loans, and posting lowers exactly those."""
    rows = employee_rows(3, seed=4)
    for row in rows:
        row.update(base_salary="45000", loan_instalment="5000", loan_balance="12000")
    rows[0]["loan_reference"], rows[1]["loan_reference"] = "PRET-A", "PRET-B"
    rows[2]["loan_reference"] = "PRET-C"
    office.import_rows(rows)
    s = office.session
    third = s.scalars(select(Employee).where(Employee.employee_number == "E000003")).one()
    s.add(Loan(employee_id=third.id, reference="PRET-D", instalment=dzd("2000"),
               remaining=dzd("12000")))  # fmt: skip
    s.commit()
    run_id = approved_run(office)
    lines = {
        number: [line["loans"] for line in json.loads(raw) if line["loans"]]
        for number, raw in s.execute(
            select(Employee.employee_number, Payslip.lines)
            .join(Payslip, Payslip.employee_id == Employee.id)
            .where(Payslip.run_id == run_id)
        )
    }
    assert lines == {
        "E000001": [[["PRET-A", dzd("5000")]]],
        "E000002": [[["PRET-B", dzd("5000")]]],
        "E000003": [[["PRET-C", dzd("5000")], ["PRET-D", dzd("2000")]]],
    }
    post_all(office, run_id)
    remaining = dict(s.execute(select(Loan.reference, Loan.remaining)).tuples().all())
    assert remaining == {"PRET-A": dzd("7000"), "PRET-B": dzd("7000"), "PRET-C": dzd("7000"),
                         "PRET-D": dzd("10000")}  # fmt: skip
