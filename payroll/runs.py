"""Payroll runs: open a period, compute (the preview), submit, approve by a second person, post
gross-to-net to the ledger in resumable batches, cancel by reversing entries.

State machine (every transition is written to the audit log)::

    open -> computed -> submitted -> approved -> posting -> posted
      ^        |  ^          |
      |        +--+ (recompute)  submitted -> computed (returned by the approver)
    any state before the first release -> cancelled

Posting books, per batch of employees and in one database transaction per batch, one balanced
ledger transaction: the employer's funding account pays gross plus employer contributions; the
liability accounts receive deductions and contributions by creditor; each employee's net-pay
account receives their net. In the same transaction a :class:`~payroll.models.Payment` row per
employee marks them posted. A posting killed at any point resumes from the employees without a
payment row: no one is booked twice (the unique (run, employee) and (employee, period) indexes
would refuse it) and no one is left out.

Each payment records how it will be paid (:class:`~payroll.models.PayChannel`), decided here from
the employee's account at posting: ``bank`` when they have a bank or postal account (settled by
the bank transfer file, :mod:`payroll.transfers`), else ``pay_point`` (released by palm).

Services flush and never commit; :func:`payroll.jobs.post_run` is the boundary that commits each
batch.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from palmvein.core import audit
from palmvein.core.money import Money, currency_exponent
from payments import ledger
from payments.ledger import Leg
from payroll import booking, repository, service
from payroll.errors import (
    AlreadyPaidForPeriod,
    MakerCheckerViolation,
    PeriodInvalid,
    RunNotFound,
    RunStateConflict,
)
from payroll.formulas import FormulaError
from payroll.models import (
    Employee,
    Loan,
    PayChannel,
    Payment,
    PaymentStatus,
    PayrollRun,
    Payslip,
    RunStatus,
)
from payroll.structures import (
    ComponentKind,
    EmployeeInputs,
    Liability,
    PayslipLine,
    Structure,
    compute_payslip,
)
from payroll.structures import Loan as LoanInput
from payroll.structures import Payslip as ComputedPayslip

Progress = Callable[[int], None]
_PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
DEFAULT_BATCH = 1000
LEDGER_CHUNK = 100  # employees per ledger transaction
_INSERT_CHUNK = 2000


class ProblemKind(StrEnum):
    SUSPENDED = "suspended"
    MISSING_STRUCTURE = "missing_structure"
    CURRENCY_MISMATCH = "currency_mismatch"
    FORMULA_ERROR = "formula_error"
    NEGATIVE_NET = "negative_net"
    ZERO_NET = "zero_net"
    ALREADY_PAID = "already_paid"
    NO_ACCOUNT = "no_account"
    NOT_ENROLLED = "not_enrolled"


# These keep the employee out of posting; the others are warnings the approver should see.
BLOCKING = frozenset(
    {
        ProblemKind.SUSPENDED,
        ProblemKind.MISSING_STRUCTURE,
        ProblemKind.CURRENCY_MISMATCH,
        ProblemKind.FORMULA_ERROR,
        ProblemKind.NEGATIVE_NET,
        ProblemKind.ZERO_NET,
        ProblemKind.ALREADY_PAID,
    }
)


@dataclass(frozen=True, slots=True)
class RunProblem:
    employee_number: str
    kind: ProblemKind
    message: str

    @property
    def blocking(self) -> bool:
        return self.kind in BLOCKING


@dataclass(frozen=True)
class RunSummary:
    """A run and its totals (minor units of ``currency``); what the preview and ``show`` print."""

    id: int
    period: str
    currency: str
    status: RunStatus
    employees: int
    payable: int
    excluded: int
    gross: int
    deductions: int
    employer_contributions: int
    net: int
    posted: int
    posted_net: int
    problem_counts: dict[str, int]
    problems: tuple[RunProblem, ...] = field(default_factory=tuple)
    opened_by: str = ""
    submitted_by: str | None = None
    approved_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        def money(minor: int) -> str:
            return str(Money(minor, self.currency).to_decimal())

        return {
            "id": self.id,
            "period": self.period,
            "currency": self.currency,
            "status": self.status.value,
            "employees": self.employees,
            "payable": self.payable,
            "excluded": self.excluded,
            "gross": money(self.gross),
            "deductions": money(self.deductions),
            "employer_contributions": money(self.employer_contributions),
            "net": money(self.net),
            "posted": self.posted,
            "posted_net": money(self.posted_net),
            "problem_counts": self.problem_counts,
            "problems": [
                {
                    "employee_number": p.employee_number,
                    "kind": p.kind.value,
                    "blocking": p.blocking,
                    "message": p.message,
                }
                for p in self.problems
            ],
            "opened_by": self.opened_by,
            "submitted_by": self.submitted_by,
            "approved_by": self.approved_by,
        }


@dataclass(frozen=True, slots=True)
class Tally:
    """How many salaries and their sum (integer minor units of the run's currency)."""

    count: int = 0
    amount: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.count + other.count, self.amount + other.amount)


@dataclass(frozen=True, slots=True)
class ReleaseProgress:
    """Where the posted salaries of a run are: paid out (released at a pay point, or sent by the
    bank file) or still held (at pay points, or waiting for the bank file). Reversed salaries (a
    cancelled run) are in none of them."""

    run_id: int
    currency: str
    released: Tally  # handed over at a pay point (wallet or cash)
    transferred: Tally  # sent by the bank transfer file
    held: Tally  # still held, to be released at a pay point
    bank_held: Tally  # still held, waiting for the bank file

    @property
    def paid(self) -> Tally:
        return self.released + self.transferred

    @property
    def posted(self) -> Tally:
        return self.paid + self.held + self.bank_held

    def as_dict(self) -> dict[str, Any]:
        def tally(t: Tally) -> dict[str, Any]:
            return {"count": t.count, "amount": str(Money(t.amount, self.currency).to_decimal())}

        return {
            "run_id": self.run_id,
            "currency": self.currency,
            **{
                name: tally(getattr(self, name))
                for name in ("released", "transferred", "held", "bank_held", "paid", "posted")
            },
        }


# -- helpers ----------------------------------------------------------------------------------


def period_start(period: str) -> date:
    match = _PERIOD.fullmatch(period)
    if match is None:
        raise PeriodInvalid(f"pay period {period!r} is not YYYY-MM")
    return date(int(match[1]), int(match[2]), 1)


def get_run(session: Session, run_id: int) -> PayrollRun:
    run = session.get(PayrollRun, run_id)
    if run is None:
        raise RunNotFound(f"no payroll run {run_id}")
    return run


def _locked(session: Session, run_id: int) -> PayrollRun:
    run = repository.lock_run(session, run_id)
    if run is None:
        raise RunNotFound(f"no payroll run {run_id}")
    return run


def _expect(run: PayrollRun, action: str, *allowed: RunStatus) -> None:
    if run.status not in {s.value for s in allowed}:
        wanted = " or ".join(s.value for s in allowed)
        raise RunStateConflict(
            f"cannot {action} run {run.id}: it is {run.status}, {action} needs {wanted}"
        )


def _transition(
    session: Session,
    run: PayrollRun,
    to: RunStatus,
    *,
    actor: str,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    before = run.status
    run.status = to.value
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"payroll.run.{to.value}",
        entity_type="payroll_run",
        entity_id=str(run.id),
        data={"from": before, "to": to.value, "period": run.period, **(data or {})},
        at=now,
    )


# -- open and compute -------------------------------------------------------------------------


def open_run(
    session: Session, *, period: str, currency: str, actor: str, now: datetime
) -> PayrollRun:
    period_start(period)
    currency_exponent(currency)
    clash = session.scalar(
        select(PayrollRun.id).where(
            PayrollRun.period == period,
            PayrollRun.currency == currency,
            PayrollRun.status != RunStatus.CANCELLED.value,
        )
    )
    if clash is not None:
        raise RunStateConflict(
            f"run {clash} already covers {period} in {currency}; cancel it first"
        )
    run = PayrollRun(
        period=period,
        currency=currency,
        status=RunStatus.OPEN.value,
        opened_by=actor,
        opened_at=now,
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="payroll.run.open",
        entity_type="payroll_run",
        entity_id=str(run.id),
        data={"period": period, "currency": currency},
        at=now,
    )
    return run


def _line_json(slip: ComputedPayslip) -> str:
    return json.dumps(
        [
            {
                "code": line.code,
                "label": line.label,
                "kind": line.kind.value,
                "amount": line.amount,
                "liability": line.liability.value if line.liability else None,
                "base": line.base,
                "rate": str(line.rate) if line.rate is not None else None,
                "loans": [list(pair) for pair in line.loans],
            }
            for line in slip.lines
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _cached_lines(slip: ComputedPayslip | None, cache: dict[int, str]) -> str:
    if slip is None:
        return "[]"
    found = cache.get(id(slip))
    if found is None:
        found = cache[id(slip)] = _line_json(slip)
    return found


def _name_loans(slip: ComputedPayslip, references: Sequence[str]) -> ComputedPayslip:
    """``slip`` with the placeholder loan references ``#i`` replaced by ``references[i]``."""

    def named(line: PayslipLine) -> PayslipLine:
        if not line.loans:
            return line
        return dataclasses.replace(
            line, loans=tuple((references[int(ref[1:])], amount) for ref, amount in line.loans)
        )

    return dataclasses.replace(slip, lines=tuple(named(line) for line in slip.lines))


def _evaluate(
    employee: Employee,
    structure: Structure | None,
    currency: str,
    loans: Sequence[Loan],
    enrolled: set[str],
    paid: set[int],
    cache: dict[tuple[Any, ...], ComputedPayslip],
) -> tuple[ComputedPayslip | None, list[RunProblem]]:
    number = employee.employee_number
    problems: list[RunProblem] = []

    def add(kind: ProblemKind, message: str) -> None:
        problems.append(RunProblem(number, kind, message))

    if employee.status == "suspended":
        add(ProblemKind.SUSPENDED, "employee is suspended; no pay this period")
    if employee.id in paid:
        add(ProblemKind.ALREADY_PAID, "already has a payment for this period in another run")
    if employee.account_number is None:
        add(ProblemKind.NO_ACCOUNT, "no bank or postal account: payable only at a pay point")
    if employee.subject_id is None or employee.subject_id not in enrolled:
        add(ProblemKind.NOT_ENROLLED, "palm not enrolled: release needs a supervisor override")
    slip: ComputedPayslip | None = None
    if structure is None:
        add(
            ProblemKind.MISSING_STRUCTURE,
            f"no salary structure in force for grade {employee.grade}",
        )
    elif structure.currency != currency:
        add(
            ProblemKind.CURRENCY_MISMATCH, f"grade {employee.grade} is paid in {structure.currency}"
        )
    else:
        variables = {} if employee.base_salary is None else {"base_salary": employee.base_salary}
        # Same structure and same inputs give the same payslip; grades share bases, so this
        # saves most of the exact arithmetic on a large payroll. Loans enter the key by their
        # amounts only (computed under placeholder references, named after): every loan has
        # its own reference, and keying on it recomputed each borrower's payslip.
        loan_inputs = tuple(LoanInput(f"#{i}", x.instalment, x.remaining)
                            for i, x in enumerate(loans))  # fmt: skip
        key = (id(structure), employee.base_salary, loan_inputs)
        try:
            slip = cache.get(key)
            if slip is None:
                slip = cache[key] = compute_payslip(
                    structure, EmployeeInputs(variables, loan_inputs)
                )
            if loans:
                slip = _name_loans(slip, [x.reference for x in loans])
        except FormulaError as exc:
            add(ProblemKind.FORMULA_ERROR, exc.message)
        if slip is not None and slip.net < 0:
            add(ProblemKind.NEGATIVE_NET, f"net pay is {Money(slip.net, currency)}")
        elif slip is not None and slip.net == 0:
            add(ProblemKind.ZERO_NET, "net pay is zero")
    return slip, problems


def compute_run(
    session: Session, run_id: int, *, actor: str, now: datetime, on_progress: Progress | None = None
) -> RunSummary:
    """Compute every payslip of the run and every problem; replaces an earlier computation."""
    run = _locked(session, run_id)
    _expect(run, "compute", RunStatus.OPEN, RunStatus.COMPUTED)
    structures = service.structures_in_force(session, period_start(run.period))
    employees = repository.employee_facts_for_run(session)
    loans = repository.loans_by_employee(session)
    enrolled = repository.enrolled_subject_ids(session)
    paid = repository.live_payment_employee_ids(session, run.period, excluding_run=run.id)
    session.execute(delete(Payslip).where(Payslip.run_id == run.id))
    cache: dict[tuple[Any, ...], ComputedPayslip] = {}
    lines_json: dict[int, str] = {}  # by id() of a cached payslip: equal payslips, one JSON
    rows: list[dict[str, Any]] = []
    for employee in employees:
        own_loans = loans.get(employee.id, ())
        slip, problems = _evaluate(
            employee,
            structures.get(employee.grade),
            run.currency,
            own_loans,
            enrolled,
            paid,
            cache,
        )
        # A borrower's payslip names their loans: its own object, so its own JSON (the JSON
        # cache is keyed by the identity of the shared cached payslips).
        lines = _line_json(slip) if slip is not None and own_loans else None
        rows.append(
            {
                "run_id": run.id,
                "employee_id": employee.id,
                "gross": slip.gross if slip else 0,
                "deductions": slip.deductions if slip else 0,
                "employer_contributions": slip.employer_contributions if slip else 0,
                "net": slip.net if slip else 0,
                "lines": lines if lines is not None else _cached_lines(slip, lines_json),
                "problems": json.dumps(
                    [{"kind": p.kind.value, "message": p.message} for p in problems],
                    ensure_ascii=False,
                ),
                "payable": slip is not None and not any(p.blocking for p in problems),
            }
        )
        if len(rows) >= _INSERT_CHUNK:
            session.execute(insert(Payslip), rows)
            if on_progress:
                on_progress(len(rows))
            rows = []
    if rows:
        session.execute(insert(Payslip), rows)
        if on_progress:
            on_progress(len(rows))
    repository.analyze(session, Payslip.__tablename__)
    run.computed_at = now
    summary_before = run.status
    _transition(session, run, RunStatus.COMPUTED, actor=actor, now=now)
    summary = summarize(session, run.id)
    audit.record(
        session,
        actor=actor,
        action="payroll.run.computed_totals",
        entity_type="payroll_run",
        entity_id=str(run.id),
        data={
            "recomputed": summary_before == RunStatus.COMPUTED.value,
            "employees": summary.employees,
            "payable": summary.payable,
            "gross": summary.gross,
            "net": summary.net,
        },
        at=now,
    )
    return summary


def summarize(session: Session, run_id: int, *, problem_limit: int | None = None) -> RunSummary:
    """The run's totals, problem counts and (up to ``problem_limit``) problems."""
    run = get_run(session, run_id)
    totals = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Payslip.gross), 0),
            func.coalesce(func.sum(Payslip.deductions), 0),
            func.coalesce(func.sum(Payslip.employer_contributions), 0),
            func.coalesce(func.sum(Payslip.net), 0),
        ).where(Payslip.run_id == run_id, Payslip.payable.is_(True))
    ).one()
    employees = session.scalar(
        select(func.count()).select_from(Payslip).where(Payslip.run_id == run_id)
    )
    posted = session.execute(
        select(func.count(), func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.run_id == run_id, Payment.status != PaymentStatus.REVERSED.value
        )
    ).one()
    counts: Counter[str] = Counter()
    problems: list[RunProblem] = []
    for number, raw in session.execute(
        select(Employee.employee_number, Payslip.problems)
        .join(Employee, Employee.id == Payslip.employee_id)
        .where(Payslip.run_id == run_id, Payslip.problems != "[]")
        .order_by(Employee.employee_number)
    ):
        for item in json.loads(raw):
            counts[item["kind"]] += 1
            if problem_limit is None or len(problems) < problem_limit:
                problems.append(RunProblem(number, ProblemKind(item["kind"]), item["message"]))
    return RunSummary(
        id=run.id,
        period=run.period,
        currency=run.currency,
        status=RunStatus(run.status),
        employees=int(employees or 0),
        payable=int(totals[0]),
        excluded=int(employees or 0) - int(totals[0]),
        gross=int(totals[1]),
        deductions=int(totals[2]),
        employer_contributions=int(totals[3]),
        net=int(totals[4]),
        posted=int(posted[0]),
        posted_net=int(posted[1]),
        problem_counts=dict(sorted(counts.items())),
        problems=tuple(problems),
        opened_by=run.opened_by,
        submitted_by=run.submitted_by,
        approved_by=run.approved_by,
    )


# -- maker-checker ----------------------------------------------------------------------------


def submit_run(session: Session, run_id: int, *, actor: str, now: datetime) -> PayrollRun:
    run = _locked(session, run_id)
    _expect(run, "submit", RunStatus.COMPUTED)
    run.submitted_by, run.submitted_at = actor, now
    _transition(session, run, RunStatus.SUBMITTED, actor=actor, now=now)
    return run


def approve_run(session: Session, run_id: int, *, actor: str, now: datetime) -> PayrollRun:
    """The checker's approval; refused for the user who submitted (maker-checker)."""
    run = _locked(session, run_id)
    _expect(run, "approve", RunStatus.SUBMITTED)
    if actor == run.submitted_by:
        raise MakerCheckerViolation(
            f"{actor} submitted run {run.id} and so cannot approve it; "
            "a different payroll approver must"
        )
    run.approved_by, run.approved_at = actor, now
    _transition(session, run, RunStatus.APPROVED, actor=actor, now=now)
    return run


def return_run(
    session: Session, run_id: int, *, actor: str, reason: str, now: datetime
) -> PayrollRun:
    """The checker sends a submitted run back to the maker, who may recompute it."""
    run = _locked(session, run_id)
    _expect(run, "return", RunStatus.SUBMITTED)
    run.submitted_by = run.submitted_at = None
    _transition(session, run, RunStatus.COMPUTED, actor=actor, now=now, data={"reason": reason})
    return run


# -- posting ----------------------------------------------------------------------------------


def start_posting(session: Session, run_id: int, *, actor: str, now: datetime) -> PayrollRun:
    """Approved -> posting; a run already posting (an interrupted posting) stays as it is."""
    run = _locked(session, run_id)
    _expect(run, "post", RunStatus.APPROVED, RunStatus.POSTING)
    if run.status == RunStatus.APPROVED.value:
        _transition(session, run, RunStatus.POSTING, actor=actor, now=now)
    return run


def _owed(lines_json: str) -> tuple[dict[Liability, int], list[tuple[str, int]]]:
    owed: dict[Liability, int] = defaultdict(int)
    loans: list[tuple[str, int]] = []
    for line in json.loads(lines_json):
        if line["kind"] != ComponentKind.EARNING.value and line["amount"]:
            owed[Liability(line["liability"] or Liability.OTHER.value)] += line["amount"]
        loans.extend((ref, amount) for ref, amount in line["loans"])
    return owed, loans


def _gross_to_net_legs(
    payslips: Sequence[Payslip],
    currency: str,
    funding: int,
    liabilities: dict[Liability, int],
    net_accounts: dict[int, int],
    sign: int,
) -> tuple[list[Leg], dict[int, list[tuple[str, int]]]]:
    """Legs booking (sign=+1) or reversing (sign=-1) the payslips, and their loan repayments."""
    cost = 0
    owed_total: dict[Liability, int] = defaultdict(int)
    loans: dict[int, list[tuple[str, int]]] = {}
    legs: list[Leg] = []
    parsed: dict[str, tuple[dict[Liability, int], list[tuple[str, int]]]] = {}
    for slip in payslips:
        # Equal payslips share their lines text: parse each text once.
        found = parsed.get(slip.lines)
        if found is None:
            found = parsed[slip.lines] = _owed(slip.lines)
        owed, slip_loans = found
        for liability, amount in owed.items():
            owed_total[liability] += amount
        loans[slip.employee_id] = slip_loans
        cost += slip.gross + slip.employer_contributions
        legs.append(Leg(net_accounts[slip.employee_id], Money(sign * slip.net, currency)))
    legs.append(Leg(funding, Money(-sign * cost, currency)))
    for liability, amount in sorted(owed_total.items()):
        if amount:
            legs.append(Leg(liabilities[liability], Money(sign * amount, currency)))
    return legs, loans


def post_batch(
    session: Session, run_id: int, *, now: datetime, batch_size: int = DEFAULT_BATCH
) -> int:
    """Post the next ``batch_size`` unposted employees of a posting run; returns how many.

    The caller commits after each call: a batch is booked whole or not at all.
    """
    run = _locked(session, run_id)  # one poster at a time per run
    _expect(run, "post a batch of", RunStatus.POSTING)
    payslips = repository.unposted_payslips(session, run.id, batch_size)
    if not payslips:
        return 0
    employee_ids = [slip.employee_id for slip in payslips]
    funding = booking.funding_account(session, run.currency, now)
    liabilities = booking.liability_accounts(session, run.currency, now)
    nets = booking.net_accounts(session, employee_ids, run.currency, now)
    channels = pay_channels(session, employee_ids)
    payments: list[dict[str, Any]] = []
    loans: dict[int, list[tuple[str, int]]] = {}
    # Several ledger transactions per database transaction: the ledger checks each one's balance
    # by summing its postings (at insert and again at COMMIT, per posting), so one transaction of
    # a thousand postings would cost a million row reads; a hundred employees each keeps it small.
    for start in range(0, len(payslips), LEDGER_CHUNK):
        chunk = payslips[start : start + LEDGER_CHUNK]
        legs, chunk_loans = _gross_to_net_legs(chunk, run.currency, funding, liabilities, nets, 1)
        loans.update(chunk_loans)
        transaction = ledger.post(
            session,
            legs,
            kind="payroll_post",
            description=f"payroll {run.period} run {run.id}: {len(chunk)} employees",
            now=now,
        )
        payments.extend(
            {
                "run_id": run.id,
                "employee_id": slip.employee_id,
                "period": run.period,
                "currency": run.currency,
                "amount": slip.net,
                "net_account_id": nets[slip.employee_id],
                "transaction_id": transaction.id,
                "status": PaymentStatus.HELD.value,
                "channel": channels[slip.employee_id].value,
                "posted_at": now,
            }
            for slip in chunk
        )
    try:
        with session.begin_nested():
            session.execute(insert(Payment), payments)
    except IntegrityError:
        # The unique (employee, period) index: someone in this batch was paid for the period by
        # another run since this one was computed. Nothing of the batch is kept.
        raise AlreadyPaidForPeriod(
            f"an employee of this batch is already paid for {run.period}; recompute run {run.id}"
        ) from None
    _apply_loans(session, loans, -1)
    return len(payslips)


def pay_channels(session: Session, employee_ids: Sequence[int]) -> dict[int, PayChannel]:
    """How each employee's salary is paid: by bank when they have an account, else at a pay
    point (the choice the payslip's ``no_account`` problem announces)."""
    query = select(Employee.id, Employee.account_number).where(Employee.id.in_(employee_ids))
    found = {employee_id: account for employee_id, account in session.execute(query)}
    return {i: PayChannel.BANK if found.get(i) else PayChannel.PAY_POINT for i in employee_ids}


def _apply_loans(session: Session, loans: dict[int, list[tuple[str, int]]], sign: int) -> None:
    params = [
        {"e": employee_id, "r": reference, "a": sign * amount}
        for employee_id, pairs in loans.items()
        for reference, amount in pairs
    ]
    if params:
        session.connection().execute(
            update(Loan.__table__)  # type: ignore[arg-type]
            .where(
                Loan.__table__.c.employee_id == bindparam("e"),
                Loan.__table__.c.reference == bindparam("r"),
            )
            .values(remaining=Loan.__table__.c.remaining + bindparam("a")),
            params,
        )


def finish_posting(session: Session, run_id: int, *, actor: str, now: datetime) -> bool:
    """Posting -> posted once every payable employee has a payment; False if some remain."""
    run = _locked(session, run_id)
    _expect(run, "finish posting", RunStatus.POSTING)
    if repository.unposted_count(session, run.id):
        return False
    run.posted_at = now
    summary = summarize(session, run.id, problem_limit=0)
    _transition(
        session,
        run,
        RunStatus.POSTED,
        actor=actor,
        now=now,
        data={"payments": summary.posted, "net": summary.posted_net},
    )
    return True


# -- cancelling -------------------------------------------------------------------------------


def cancel_run(
    session: Session, run_id: int, *, actor: str, reason: str, now: datetime
) -> RunSummary:
    """Cancel a run. Posted money comes back by new ledger entries (nothing is deleted); refused
    once any salary of the run has been released."""
    run = _locked(session, run_id)
    _expect(
        run,
        "cancel",
        RunStatus.OPEN,
        RunStatus.COMPUTED,
        RunStatus.SUBMITTED,
        RunStatus.APPROVED,
        RunStatus.POSTING,
        RunStatus.POSTED,
    )
    released = session.scalar(
        select(func.count())
        .select_from(Payment)
        .where(
            Payment.run_id == run.id,
            Payment.status.in_([PaymentStatus.RELEASED.value, PaymentStatus.TRANSFERRED.value]),
        )
    )
    if released:
        raise RunStateConflict(
            f"run {run.id} cannot be cancelled: {released} salaries were already released"
            " or sent in the bank transfer file"
        )
    payments = list(
        session.scalars(
            select(Payment)
            .where(Payment.run_id == run.id, Payment.status == PaymentStatus.HELD.value)
            .order_by(Payment.employee_id)
            .with_for_update()
        )
    )
    reversed_count = 0
    if payments:
        funding = booking.funding_account(session, run.currency, now)
        liabilities = booking.liability_accounts(session, run.currency, now)
        slips = {
            slip.employee_id: slip
            for slip in session.scalars(select(Payslip).where(Payslip.run_id == run.id))
        }
        for start in range(0, len(payments), LEDGER_CHUNK):
            chunk = payments[start : start + LEDGER_CHUNK]
            nets = {p.employee_id: p.net_account_id for p in chunk}
            legs, loans = _gross_to_net_legs(
                [slips[p.employee_id] for p in chunk], run.currency, funding, liabilities, nets, -1
            )
            transaction = ledger.post(
                session,
                legs,
                kind="payroll_reversal",
                description=f"cancel payroll {run.period} run {run.id}",
                now=now,
            )
            for payment in chunk:
                payment.status = PaymentStatus.REVERSED.value
                payment.reversal_transaction_id = transaction.id
                payment.reversed_at = now
            _apply_loans(session, loans, 1)
            reversed_count += len(chunk)
    run.cancelled_by, run.cancelled_at, run.cancel_reason = actor, now, reason[:500]
    _transition(
        session,
        run,
        RunStatus.CANCELLED,
        actor=actor,
        now=now,
        data={"reason": reason[:500], "reversed_payments": reversed_count},
    )
    return summarize(session, run.id, problem_limit=0)


def list_runs(session: Session) -> list[PayrollRun]:
    return list(session.scalars(select(PayrollRun).order_by(PayrollRun.id.desc())))


def release_progress(session: Session, run_id: int) -> ReleaseProgress:
    """Counts and sums of the run's salaries released, transferred and still held (at pay points
    or waiting for the bank file), from one aggregate query over its payments."""
    run = get_run(session, run_id)
    found: dict[tuple[str, str], Tally] = {
        (status, channel): Tally(count, amount)
        for status, channel, count, amount in repository.payment_totals(session, run.id)
    }

    def of(status: PaymentStatus, channel: PayChannel | None = None) -> Tally:
        return sum(
            (t for (s, c), t in found.items()
             if s == status.value and (channel is None or c == channel.value)),
            Tally(),
        )  # fmt: skip

    return ReleaseProgress(
        run_id=run.id,
        currency=run.currency,
        released=of(PaymentStatus.RELEASED),
        transferred=of(PaymentStatus.TRANSFERRED),
        held=of(PaymentStatus.HELD, PayChannel.PAY_POINT),
        bank_held=of(PaymentStatus.HELD, PayChannel.BANK),
    )
