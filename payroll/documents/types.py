"""Frozen inputs of the payroll documents: who pays, who is paid, and what one payslip holds.

The payroll service maps its database rows into these; the document functions are pure over them,
so a payslip can be rendered or a bank file built without a database.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from palmvein.core.errors import FieldProblem, ValidationFailed
from palmvein.core.money import Money, currency_exponent, total

Language = Literal["ar", "fr", "en"]
LANGUAGES: tuple[Language, ...] = ("ar", "fr", "en")


class DocumentInputInvalid(ValidationFailed):
    """A document input does not add up (totals, currencies, missing account for a bank payment)."""

    code = "payroll-document-input-invalid"


class LineKind(StrEnum):
    EARNING = "earning"
    DEDUCTION = "deduction"
    # Shown on the payslip for information (employer's social security share); not in gross or net.
    EMPLOYER_CONTRIBUTION = "employer_contribution"


class PaymentChannel(StrEnum):
    BANK = "bank"
    WALLET = "wallet"
    CASH = "cash"


class AccountScheme(StrEnum):
    """How an account number is written.

    IBAN goes into ISO 20022 ``<IBAN>``; the others are national numbers that go into
    ``<Othr><Id>`` with ``<SchmeNm><Prtry>`` set to the upper-case scheme name.
    """

    IBAN = "iban"
    RIB = "rib"  # relevé d'identité bancaire: 20 digits in Algeria, 24 in Morocco
    RIP = "rip"  # relevé d'identité postal (Algérie Poste, 20 digits)
    CCP = "ccp"  # compte courant postal number with its key
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class BankAccount:
    """An account and the institution that holds it; ``bic`` is None when not known."""

    scheme: AccountScheme
    identifier: str
    bank_name: str
    bic: str | None = None

    def __post_init__(self) -> None:
        if not self.identifier.strip():
            raise DocumentInputInvalid("account identifier is empty")
        if not self.bank_name.strip():
            raise DocumentInputInvalid("account bank name is empty")
        if self.bic is not None and not (len(self.bic) in (8, 11) and self.bic.isalnum()):
            raise DocumentInputInvalid(f"BIC {self.bic!r} is not 8 or 11 letters and digits")

    @property
    def bank_key(self) -> str:
        """What groups transfers by receiving bank: the BIC's institution part, else the name."""
        return self.bic[:8].upper() if self.bic else self.bank_name.strip().casefold()


@dataclass(frozen=True, slots=True)
class Employer:
    name_ar: str
    name_latin: str
    address: str
    tax_id: str
    account: BankAccount


@dataclass(frozen=True, slots=True)
class EmployeeRef:
    number: str
    name_ar: str
    name_latin: str
    unit: str
    grade: str
    national_id: str
    account: BankAccount | None = None

    def name(self, language: Language) -> str:
        return self.name_ar if language == "ar" else self.name_latin


@dataclass(frozen=True, slots=True)
class PayPeriod:
    """Inclusive dates; ``PayPeriod.month(2026, 11)`` is November 2026."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise DocumentInputInvalid(f"pay period ends ({self.end}) before it starts")

    @classmethod
    def month(cls, year: int, month: int) -> PayPeriod:
        last = calendar.monthrange(year, month)[1]
        return cls(date(year, month, 1), date(year, month, last))

    @property
    def is_calendar_month(self) -> bool:
        last = calendar.monthrange(self.start.year, self.start.month)[1]
        return self.start.day == 1 and self.end == self.start.replace(day=last)

    @property
    def code(self) -> str:
        """Short text for references: ``2026-11`` for a month, else ``20261101-20261115``."""
        if self.is_calendar_month:
            return f"{self.start:%Y-%m}"
        return f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"


@dataclass(frozen=True, slots=True)
class PayslipLine:
    """One line: ``amount`` is positive for what it names (a deduction of 900 is +900)."""

    code: str
    label_ar: str
    label_fr: str
    label_en: str
    kind: LineKind
    amount: Money
    base: Money | None = None
    rate: Decimal | None = None  # a fraction: 0.09 for 9 %

    def label(self, language: Language) -> str:
        return {"ar": self.label_ar, "fr": self.label_fr, "en": self.label_en}[language]


@dataclass(frozen=True, slots=True)
class Payslip:
    """One employee's pay for one period; the totals must agree with the lines.

    ``gross`` is the sum of earnings, ``total_deductions`` the sum of deductions and ``net`` their
    difference; employer contributions are listed but count in neither. A payslip whose figures do
    not add up raises :class:`DocumentInputInvalid` rather than being printed.
    """

    reference: str
    employee: EmployeeRef
    period: PayPeriod
    currency: str
    lines: tuple[PayslipLine, ...]
    gross: Money
    total_deductions: Money
    net: Money
    channel: PaymentChannel

    def __post_init__(self) -> None:
        currency_exponent(self.currency)
        problems: list[FieldProblem] = []
        for i, line in enumerate(self.lines):
            for name, value in (("amount", line.amount), ("base", line.base)):
                if value is not None and value.currency != self.currency:
                    problems.append(
                        FieldProblem(
                            f"lines[{i}].{name}", f"in {value.currency}, not {self.currency}"
                        )
                    )
        for name in ("gross", "total_deductions", "net"):
            if getattr(self, name).currency != self.currency:
                problems.append(FieldProblem(name, f"not in {self.currency}"))
        if problems:
            raise DocumentInputInvalid(f"payslip {self.reference}: mixed currencies", problems)
        gross = self.sum_of(LineKind.EARNING)
        deductions = self.sum_of(LineKind.DEDUCTION)
        if gross != self.gross:
            problems.append(FieldProblem("gross", f"{self.gross} but earnings sum to {gross}"))
        if deductions != self.total_deductions:
            problems.append(
                FieldProblem(
                    "total_deductions",
                    f"{self.total_deductions} but deductions sum to {deductions}",
                )
            )
        if self.gross - self.total_deductions != self.net:
            problems.append(
                FieldProblem("net", f"{self.net} but gross - deductions is {gross - deductions}")
            )
        if self.channel is PaymentChannel.BANK and self.employee.account is None:
            problems.append(FieldProblem("employee.account", "paid by bank but has no account"))
        if problems:
            raise DocumentInputInvalid(f"payslip {self.reference} does not add up", problems)

    def sum_of(self, kind: LineKind) -> Money:
        return total((line.amount for line in self.lines if line.kind is kind), self.currency)

    def lines_of(self, kind: LineKind) -> tuple[PayslipLine, ...]:
        return tuple(line for line in self.lines if line.kind is kind)
