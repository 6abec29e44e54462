"""Documents of a real payroll run: its rows mapped into :mod:`payroll.documents` inputs.

:func:`load_run_documents` reads a run's payslips, employees, accounts, releases and the salary
structures' labels once and returns a :class:`RunDocuments` that renders each document:

- payslips (one employee, or the whole run as one PDF) and the salary register (CSV, PDF) for a
  run that is computed, submitted, approved, posting or posted. Until the run is ``posted`` the
  figures may still change: those documents are a **preview** (:attr:`RunDocuments.preview`):
  the PDF titles say "PREVIEW, figures not final" in the page's language, and callers name the
  files ``*-preview.*``. A posted run's documents list the employees it paid (those with a live
  payment; its net is the payment's amount); a preview lists the payable payslips.
- bank files (CSV and ISO 20022 pain.001) only for a ``posted`` run: the net amounts are booked
  and final. Anything else raises :class:`~payroll.errors.RunStateConflict`. Producing the file
  is what pays those salaries: :func:`produce_bank_file` books them from the held accounts to
  bank clearing (``transferred``, :mod:`payroll.transfers`) and renders the file, once; producing
  it again books nothing and lists the same transfers. :class:`RunDocuments` renders a bank file
  only when every bank salary of the run is transferred, so no file leaves with salaries still
  held (which a pay point could otherwise also pay).

How each employee is paid (:class:`~payroll.documents.PaymentChannel`): a posted salary follows
its payment's channel, fixed at posting (:class:`~payroll.models.PayChannel`): ``bank`` for an
employee with a bank or postal account, never released at a pay point; ``pay_point`` otherwise,
shown as the release's wallet or cash once released, ``cash`` before. A preview follows the
employee's account the same way.

The employer (names, address, tax id, the debtor account) comes from the ``employer_*`` settings.
Pay item labels per language come from the salary structure's components: ``labels``
(``{"ar": ..., "fr": ..., "en": ...}``) when given, else the component's ``label``, else its code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from palmvein.core.errors import IntegrityViolation, ValidationFailed
from palmvein.core.money import Money
from palmvein.core.settings import Settings
from payroll import documents as docs
from payroll import repository, transfers
from payroll.accounts import AccountScheme as EmployeeScheme
from payroll.errors import EmployeeNotFound, RunStateConflict
from payroll.models import (
    Employee,
    PayChannel,
    Payment,
    PaymentStatus,
    PayrollRun,
    Payslip,
    Release,
    RunStatus,
)
from payroll.runs import get_run, period_start

PREVIEW_STATES = frozenset(
    {RunStatus.COMPUTED, RunStatus.SUBMITTED, RunStatus.APPROVED, RunStatus.POSTING}
)
FINAL_STATES = frozenset({RunStatus.POSTED})

ALGERIE_POSTE = "Algérie Poste"
_POSTAL_RIP_PREFIX = "00799999"  # bank 007, branch 99999: a postal account's RIP
_MAX_REFERENCE = 35  # the pain.001 EndToEndId

Labels = dict[str, tuple[str, str, str]]  # code -> (ar, fr, en)


def employer_from_settings(settings: Settings) -> docs.Employer:
    """The paying employer as configured (``PALMVEIN_EMPLOYER_*``)."""
    try:
        scheme = docs.AccountScheme(settings.employer_account_scheme.lower())
    except ValueError:
        scheme = docs.AccountScheme.OTHER
    return docs.Employer(
        name_ar=settings.employer_name_ar,
        name_latin=settings.employer_name_latin,
        address=settings.employer_address,
        tax_id=settings.employer_tax_id,
        account=docs.BankAccount(
            scheme, settings.employer_account, settings.employer_bank_name, settings.employer_bic
        ),
    )


def employee_account(scheme: str | None, number: str | None) -> docs.BankAccount | None:
    """The document form of an employee's stored account (None when there is none).

    Banks are named by their code in the number (no directory of bank names or BICs is kept, so
    none is invented): transfers group by that code, and the credit agent is written by name.
    """
    if not scheme or not number:
        return None
    if scheme == EmployeeScheme.CCP.value:
        return docs.BankAccount(docs.AccountScheme.CCP, number, ALGERIE_POSTE)
    if scheme == EmployeeScheme.RIP_DZ.value:
        if number.startswith(_POSTAL_RIP_PREFIX):
            return docs.BankAccount(docs.AccountScheme.RIP, number, ALGERIE_POSTE)
        return docs.BankAccount(docs.AccountScheme.RIB, number, f"Banque DZ {number[:3]}")
    if scheme == EmployeeScheme.RIB_MA.value:
        return docs.BankAccount(docs.AccountScheme.RIB, number, f"Banque MA {number[:3]}")
    if scheme == "iban":
        return docs.BankAccount(
            docs.AccountScheme.IBAN, number, f"Banque {number[:2]} {number[4:8]}"
        )
    return docs.BankAccount(docs.AccountScheme.OTHER, number, f"Banque ({scheme})")


def structure_labels(session: Session, period: str) -> Labels:
    """Labels by pay item code of the structures in force for ``period`` (every grade)."""
    labels: Labels = {}
    for row in repository.structure_rows_in_force(session, period_start(period)):
        for component in json.loads(row.definition).get("components") or []:
            code = str(component.get("code") or "")
            if not code or code in labels:
                continue
            generic = str(component.get("label") or code)
            given = component.get("labels") if isinstance(component.get("labels"), dict) else {}
            labels[code] = (
                str(given.get("ar") or generic),
                str(given.get("fr") or generic),
                str(given.get("en") or generic),
            )
    return labels


def payslip_reference(run_id: int, period: str, employee: Employee) -> str:
    """Unique per run and at most 35 characters (it is the transfer's EndToEndId)."""
    reference = f"R{run_id}-{period}-{employee.employee_number}"
    return reference if len(reference) <= _MAX_REFERENCE else f"R{run_id}-{period}-ID{employee.id}"


def message_id(run: PayrollRun) -> str:
    """The pain.001 MsgId: one per run, so a bank refuses the same run's file sent twice."""
    return f"PAYROLL-R{run.id}-{run.period}"


def _lines(raw: str, currency: str, labels: Labels) -> tuple[docs.PayslipLine, ...]:
    lines: list[docs.PayslipLine] = []
    for item in json.loads(raw):
        code = item["code"]
        ar, fr, en = labels.get(code) or (item.get("label") or code,) * 3
        rate = item.get("rate")
        base = item.get("base")
        lines.append(
            docs.PayslipLine(
                code=code,
                label_ar=ar,
                label_fr=fr,
                label_en=en,
                kind=docs.LineKind(item["kind"]),
                amount=Money(int(item["amount"]), currency),
                base=Money(int(base), currency) if base is not None else None,
                # The structure keeps percent ("9"); the documents take a fraction (0.09).
                rate=Decimal(rate) / 100 if rate is not None else None,
            )
        )
    return tuple(lines)


def _channel(employee: Employee, released: str | None, paid_by: str | None) -> docs.PaymentChannel:
    if released is not None:
        return docs.PaymentChannel(released)
    if paid_by is not None:  # posted: the payment's channel, fixed at posting
        bank = paid_by == PayChannel.BANK.value
        return docs.PaymentChannel.BANK if bank else docs.PaymentChannel.CASH
    if employee.account_number:
        return docs.PaymentChannel.BANK
    return docs.PaymentChannel.CASH


@dataclass(frozen=True)
class RunDocuments:
    """A run's documents, ready to render; ``payslips`` are in employee-number order."""

    run_id: int
    period: str
    status: RunStatus
    employer: docs.Employer
    payslips: tuple[docs.Payslip, ...]
    message_id: str
    # Bank salaries of the run still held: until the file is produced (and books them) none is
    # rendered. ``transferred_at`` is when it was first produced (the pain.001 creation time).
    bank_pending: int = 0
    transferred_at: datetime | None = None

    @property
    def preview(self) -> bool:
        return self.status not in FINAL_STATES

    @property
    def bank_paid(self) -> tuple[docs.Payslip, ...]:
        return tuple(p for p in self.payslips if p.channel is docs.PaymentChannel.BANK)

    def payslip(self, employee_number: str) -> docs.Payslip:
        for slip in self.payslips:
            if slip.employee.number == employee_number:
                return slip
        raise EmployeeNotFound(f"run {self.run_id} has no payslip for {employee_number}")

    def payslip_pdf(self, employee_number: str, language: docs.Language) -> bytes:
        return docs.payslip_pdf(
            self.employer, self.payslip(employee_number), language, preview=self.preview
        )

    def payslips_pdf(self, language: docs.Language) -> bytes:
        self._require_payslips()
        return docs.payslips_pdf(self.employer, self.payslips, language, preview=self.preview)

    def register_csv(self) -> bytes:
        self._require_payslips()
        return docs.register_csv(self.payslips)

    def register_pdf(self, language: docs.Language) -> bytes:
        self._require_payslips()
        return docs.register_pdf(self.employer, self.payslips, language, preview=self.preview)

    def bank_csv(self) -> bytes:
        return docs.bank_transfer_csv(self._final_bank_paid())

    def pain001_xml(self, *, execution_date: date, created_at: datetime) -> bytes:
        return docs.pain001_xml(
            self.employer,
            self._final_bank_paid(),
            message_id=self.message_id,
            created_at=created_at,
            execution_date=execution_date,
        )

    def _require_payslips(self) -> None:
        if not self.payslips:
            raise RunStateConflict(f"run {self.run_id} has no payable payslip to print")

    def _final_bank_paid(self) -> tuple[docs.Payslip, ...]:
        if self.status not in FINAL_STATES:
            raise RunStateConflict(
                f"run {self.run_id} is {self.status.value}: bank files only for a posted run "
                "(its net amounts are booked and final)"
            )
        paid = self.bank_paid
        if not paid:
            raise RunStateConflict(f"run {self.run_id} pays no employee by bank")
        if self.bank_pending:
            raise RunStateConflict(
                f"run {self.run_id}: the bank file has not been produced, {self.bank_pending}"
                " bank salaries are still held; producing it (produce_bank_file, POST"
                " .../bank.csv or .../pain001.xml) books them as transferred"
            )
        return paid


def load_run_documents(
    session: Session,
    run_id: int,
    employer: docs.Employer,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> RunDocuments:
    """Map run ``run_id`` into document inputs (RunNotFound, or RunStateConflict when the run is
    open or cancelled: there is nothing to print)."""
    run = get_run(session, run_id)
    status = RunStatus(run.status)
    if status not in PREVIEW_STATES | FINAL_STATES:
        raise RunStateConflict(
            f"run {run.id} is {status.value}: documents exist from computed until posted"
        )
    labels = structure_labels(session, run.period)
    year, month = (int(part) for part in run.period.split("-"))
    period = docs.PayPeriod.month(year, month)
    slips: list[docs.Payslip] = []
    for row, employee, released, paid_by in _rows(session, run, status):
        ref = docs.EmployeeRef(
            number=employee.employee_number,
            name_ar=employee.name_arabic,
            name_latin=employee.name_latin,
            unit=employee.unit,
            grade=employee.grade,
            national_id=employee.national_id,
            account=employee_account(employee.account_scheme, employee.account_number),
        )
        slips.append(
            docs.Payslip(
                reference=payslip_reference(run.id, run.period, employee),
                employee=ref,
                period=period,
                currency=run.currency,
                lines=_lines(row.lines, run.currency, labels),
                gross=Money(row.gross, run.currency),
                total_deductions=Money(row.deductions, run.currency),
                net=Money(row.net, run.currency),
                channel=_channel(employee, released, paid_by),
            )
        )
        if on_progress:
            on_progress(1)
    settled = transfers.bank_settlement(session, run.id)
    return RunDocuments(
        run.id,
        run.period,
        status,
        employer,
        tuple(slips),
        message_id(run),
        bank_pending=transfers.pending_bank_payments(session, run.id),
        transferred_at=settled.transferred_at,
    )


BankFormat = Literal["csv", "pain001"]


@dataclass(frozen=True)
class BankFile:
    """A produced bank transfer file and what producing it booked."""

    content: bytes
    settlement: transfers.BankSettlement


def produce_bank_file(
    session: Session,
    run_id: int,
    employer: docs.Employer,
    *,
    file_format: BankFormat,
    actor: str,
    now: datetime,
    execution_date: date | None = None,
) -> BankFile:
    """Book the run's bank salaries as transferred (once) and render its bank file.

    The first call moves every held bank salary of the posted run to bank clearing
    (:func:`payroll.transfers.settle_bank_transfers`); later calls book nothing and render the
    same transfers (the pain.001 keeps the first creation time and the run's MsgId, so a bank
    refuses it as a duplicate). The caller commits: file and booking go together or not at all.
    """
    if file_format not in ("csv", "pain001"):
        # Refused before booking: a mistyped format must not pay the salaries with no file.
        raise ValidationFailed(
            f"unknown bank file format {file_format!r}: choose one of csv, pain001"
        )
    run = get_run(session, run_id)
    settlement = transfers.settle_bank_transfers(
        session, run_id, actor=actor, reference=message_id(run), now=now
    )
    documents = load_run_documents(session, run_id, employer)
    if file_format == "csv":
        content = documents.bank_csv()
    else:
        content = documents.pain001_xml(
            execution_date=execution_date or now.date(),
            created_at=settlement.transferred_at or now,
        )
    return BankFile(content, settlement)


def _rows(
    session: Session, run: PayrollRun, status: RunStatus
) -> Iterable[tuple[Payslip, Employee, str | None, str | None]]:
    query: Any = (
        select(Payslip, Employee, Release.channel, Payment.amount, Payment.channel)
        .join(Employee, Employee.id == Payslip.employee_id)
        .outerjoin(
            Payment,
            (Payment.run_id == Payslip.run_id) & (Payment.employee_id == Payslip.employee_id),
        )
        .outerjoin(Release, Release.payment_id == Payment.id)
        .where(Payslip.run_id == run.id)
        .order_by(Employee.employee_number)
    )
    if status in FINAL_STATES:
        # What was paid: the payment rows (the posting marker), not what a recompute could say.
        query = query.where(Payment.status != PaymentStatus.REVERSED.value)
    else:
        query = query.where(Payslip.payable.is_(True))
    for row, employee, channel, paid, paid_by in session.execute(query):
        if paid is not None and paid != row.net:
            raise IntegrityViolation(
                f"run {run.id}: payment of {employee.employee_number} is {paid}, "
                f"its payslip says {row.net}"
            )
        yield row, employee, channel, paid_by
