"""The payroll part of ``palmvein demo``: one pay month through the real services.

Imports a generated employee file (first a faulty one, which is refused whole with every
problem listed), computes the next unpaid month, shows the preview's problems, submits as the
payroll officer, is refused when the officer tries to approve their own run, approves as the
payroll approver, posts gross-to-net to the ledger batch by batch, releases the salary of an
employee paid at a pay point (no bank account) to their wallet by palm, produces the bank
transfer file that pays the others (booked once; their palms are refused at the pay point) and
prints the control reports. Each run uses new employee numbers and the next
month, so the demo repeats on the same database.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from matcher.demo import capture_templates, demo_palm
from matcher.models import Person
from matcher.repository import IndexFollower
from matcher.service import MatcherService
from palmvein.core.db import unit_of_work
from palmvein.core.money import Money
from palmvein.core.settings import Settings
from payments import ledger
from payments import service as payments_service
from payments.models import AccountKind
from payroll import jobs, paypoint, reports, runs, service
from payroll.documents_service import employer_from_settings, produce_bank_file
from payroll.errors import MakerCheckerViolation
from payroll.models import (
    Employee,
    PayChannel,
    Payment,
    PayrollRun,
    ReleaseChannel,
    RunStatus,
    SalaryStructure,
)
from payroll.sample import ALGERIA_FROM, algeria_structure, employee_rows, write_csv

GRADE = "G12"
OFFICER, APPROVER = "staff:officer", "staff:approver"
DEVICE = "device:demo-pay-point"


def _next_period(session: Session) -> str:
    latest = session.scalar(
        select(func.max(PayrollRun.period)).where(PayrollRun.status != RunStatus.CANCELLED.value)
    )
    if latest is None:
        return "2026-01"
    year, month = int(latest[:4]), int(latest[5:])
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def _release_by_palm(
    factory: sessionmaker[Session],
    follower: IndexFollower,
    run_id: int,
    period: str,
    now: datetime,
    facts: list[tuple[str, str]],
) -> str:
    """At the pay point of an employee paid there (no bank account): a colleague's palm is
    refused, then the employee's own palm (a fresh capture through the emulated USB scanner,
    identified 1:N) releases the salary to their wallet, and a second claim finds nothing left.
    Returns the employee number paid."""
    with unit_of_work(factory) as session:
        candidates = session.execute(
            select(Payment, Employee, Person)
            .join(Employee, Employee.id == Payment.employee_id)
            .join(Person, Person.id == Employee.subject_id)
            .where(Payment.run_id == run_id)
            .order_by(Payment.employee_id)
        ).all()
        palms: list[tuple[Employee, Person, tuple[int, int]]] = []
        at_pay_point: set[int] = set()
        for payment, e, p in candidates:
            palm = demo_palm(p.external_ref)
            if palm is not None:
                palms.append((e, p, palm))
                if payment.channel == PayChannel.PAY_POINT.value:
                    at_pay_point.add(e.id)
        payees = [entry for entry in palms if entry[0].id in at_pay_point]
        if len(palms) < 2 or not payees:
            skipped = "fewer than two demo palms on the payroll, or none paid at a pay point"
            facts.append(("released by palm", f"{skipped}: skipped"))
            return "-"
        employee, person, (seed, identity) = payees[0]
        _, _, (other_seed, other) = next(entry for entry in palms if entry[0].id != employee.id)
        number, pay_point = employee.employee_number, employee.pay_point
        if not ledger.find_account(session, owner_type="person", owner_id=person.id,
                                   kind=AccountKind.WALLET, currency="DZD"):  # fmt: skip
            payments_service.open_wallet(session, person_id=person.id, currency="DZD",
                                         phone="+213555000100", now=now)  # fmt: skip
    outcomes = []
    for palm_seed, palm_identity in ((other_seed, other), (seed, identity), (seed, identity)):
        probes = capture_templates(palm_seed, palm_identity, 2, 1)
        if not probes:
            outcomes.append("capture failed")
            continue
        probe = probes[0]
        with unit_of_work(factory) as session:
            matcher = MatcherService(session, follower, actor=DEVICE)
            decision = matcher.identify(probe, purpose="salary_release")
            result = paypoint.claim_salary(
                session, employee_number=number, decision=decision,
                channel=ReleaseChannel.WALLET, device_id=DEVICE, pay_point=pay_point,
                cashier=DEVICE, now=now,
            )  # fmt: skip
            paid = sum(r.amount for r in result.released)
        outcomes.append(
            f"{result.outcome.value} (score {decision.score:.3f}, threshold "
            f"{decision.threshold:.3f})" + (f", {Money(paid, 'DZD')} to the wallet" if paid else "")
        )
    facts.append((f"release of {number}'s {period} salary at {pay_point}",
                  (f"a colleague's palm: {outcomes[0]}; own palm: {outcomes[1]}; "
                   f"again: {outcomes[2]}")))  # fmt: skip
    return number


def run_demo(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    out_dir: Path,
    employees: int = 12,
    follower: IndexFollower | None = None,
) -> list[tuple[str, str]]:
    """Run the month; returns (label, value) facts for the demo summary. With the worker's
    palm index (``follower``) a salary is released by palm at its pay point."""
    out_dir.mkdir(parents=True, exist_ok=True)
    facts: list[tuple[str, str]] = []
    with unit_of_work(factory) as session:
        batch = int(session.scalar(select(func.count()).select_from(Employee)) or 0) // employees
        prefix = f"D{batch + 1:03d}-"
        # Link the employees to palms the enrolment step just enrolled (newest first, unlinked).
        linked = select(Employee.subject_id).where(Employee.subject_id.is_not(None))
        subjects: list[str | None] = list(
            session.scalars(
                select(Person.id)
                .where(Person.enrolled_at.is_not(None), Person.deleted_at.is_(None))
                .where(Person.id.not_in(linked))
                .order_by(Person.enrolled_at.desc())
                .limit(employees - 2)
            )
        )
        if not session.scalar(select(SalaryStructure.id).where(SalaryStructure.grade == GRADE)):
            service.add_structure(
                session, grade=GRADE, currency="DZD", effective_from=ALGERIA_FROM,
                definition=algeria_structure(), actor=OFFICER, now=now,
            )  # fmt: skip
    # Planted cases: the last enrolled palm also on a second record (one palm, two employees),
    # one employee never enrolled, one suspended.
    if subjects:
        subjects.append(subjects[0])
    rows = employee_rows(
        employees, seed=batch + 1, prefix=prefix, grade=GRADE, subject_ids=subjects
    )
    rows[-1]["status"] = "suspended"
    # Every other employee has no bank account: paid at the pay point, by palm.
    for row in rows[::2]:
        row.update(account_scheme="", account_number="")

    bad = [dict(row) for row in rows]
    bad[1]["account_number"] = bad[1]["account_number"][:-2] + "00"
    bad[4]["name_arabic"] = "Karim"
    bad[6]["base_salary"] = "12,345"
    with unit_of_work(factory) as session:
        _, refused = service.check_import(
            session, write_csv(out_dir / "employees-with-errors.csv", bad), currency="DZD"
        )
    listed = "; ".join(f"row {p.row} {p.field}" for p in refused.problems)
    facts.append(("faulty file", f"refused whole, {len(refused.problems)} problems ({listed})"))
    with unit_of_work(factory) as session:
        report = service.import_file(
            session, write_csv(out_dir / "employees.csv", rows), currency="DZD",
            actor="staff:clerk", now=now,
        )  # fmt: skip
    facts.append(("employee file", f"{report.created} imported ({prefix}...), all or nothing"))

    with unit_of_work(factory) as session:
        run = runs.open_run(session, period=_next_period(session), currency="DZD",
                            actor=OFFICER, now=now)  # fmt: skip
        run_id, period = run.id, run.period
    with unit_of_work(factory) as session:
        preview = runs.compute_run(session, run_id, actor=OFFICER, now=now)
    counts = ", ".join(f"{k} {v}" for k, v in preview.problem_counts.items())
    facts.append(
        (
            f"run {run_id} ({period}) preview",
            (
                f"{preview.employees} payslips, {preview.payable} payable; "
                f"gross {Money(preview.gross, 'DZD')}, net {Money(preview.net, 'DZD')}; "
                f"problems: {counts or 'none'}"
            ),
        )
    )
    with unit_of_work(factory) as session:
        runs.submit_run(session, run_id, actor=OFFICER, now=now)
    try:
        with unit_of_work(factory) as session:
            runs.approve_run(session, run_id, actor=OFFICER, now=now)
        maker_checker = "NOT refused (bug)"
    except MakerCheckerViolation:
        maker_checker = "refused for the officer who submitted"
    with unit_of_work(factory) as session:
        runs.approve_run(session, run_id, actor=APPROVER, now=now)
    facts.append(("maker-checker", f"{maker_checker}; approved by {APPROVER}"))
    posted = jobs.post_run(factory, run_id, actor=APPROVER, now=lambda: now, batch_size=5)
    facts.append(
        (
            "posted",
            (
                f"{posted.posted} salaries held per employee, {Money(posted.posted_net, 'DZD')} "
                "(batches of 5, each its own transaction)"
            ),
        )
    )

    released = "-"
    if follower is not None:
        released = _release_by_palm(factory, follower, run_id, period, now, facts)
    else:
        facts.append(("released", "no palm index given: nothing released"))

    with unit_of_work(factory) as session:
        bank_file = produce_bank_file(
            session, run_id, employer_from_settings(Settings()), file_format="pain001",
            actor=OFFICER, now=now,
        )  # fmt: skip
    (out_dir / f"pain001-run{run_id}-{period}.xml").write_bytes(bank_file.content)
    with unit_of_work(factory) as session:
        again = produce_bank_file(
            session, run_id, employer_from_settings(Settings()), file_format="csv",
            actor=OFFICER, now=now,
        )  # fmt: skip
    settled = bank_file.settlement
    facts.append(("bank transfer file", (
        f"{settled.booked} salaries, {Money(settled.booked_amount, 'DZD')} booked to bank clearing"
        f" (pain.001 and CSV; produced again: {again.settlement.booked} booked)"
    )))  # fmt: skip
    with unit_of_work(factory) as session:
        unclaimed = reports.unclaimed(session, older_than_days=0, now=now)
        shared = reports.shared_palms(session)
        never = reports.never_enrolled(session)
        history = reports.release_history(session, released) if released != "-" else []
        problems = ledger.verify_ledger(session)
    facts.append(("unclaimed salaries", f"{len(unclaimed)} held (report after N days)"))
    facts.append(("one palm, several records", "; ".join(
        f"{s.subject_id[:8]}... on {', '.join(s.employee_numbers)}" for s in shared
    ) or "none"))  # fmt: skip
    facts.append(("never enrolled", f"{len(never)} employees"))
    if history:
        entry = history[0]
        summary = f"{entry.period} {entry.amount} DZD {entry.status} via {entry.channel}"
        facts.append((f"history of {released}", summary))
    facts.append(("ledger check", "balanced" if not problems else f"{len(problems)} problems"))
    facts.append(("files", str(out_dir / "employees.csv")))
    return facts
