"""Salary register (livre de paie): one row per employee of a run, a column per pay item, totals.

Columns are the fixed identity columns, then one column per (kind, code) in the order the codes
first appear (earnings, then deductions, then employer contributions), then gross, deductions, net
and the payment channel. Two lines with the same code on one payslip add up in their column.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass

from palmvein.core.money import Money

from .formatting import format_amount, format_period
from .labels import channel_label, label
from .pdfkit import Column, Document
from .types import DocumentInputInvalid, Employer, Language, LineKind, Payslip

_KIND_ORDER = (LineKind.EARNING, LineKind.DEDUCTION, LineKind.EMPLOYER_CONTRIBUTION)


@dataclass(frozen=True, slots=True)
class ItemColumn:
    kind: LineKind
    code: str
    label_ar: str
    label_fr: str
    label_en: str

    def label(self, language: Language) -> str:
        return {"ar": self.label_ar, "fr": self.label_fr, "en": self.label_en}[language]


@dataclass(frozen=True, slots=True)
class RegisterRow:
    payslip: Payslip
    items: tuple[int, ...]  # minor units, one per ItemColumn (0 when the payslip has no such line)


@dataclass(frozen=True, slots=True)
class SalaryRegister:
    """The register of one run: ``totals`` has one entry per item column, then gross, deductions
    and net, all in minor units of ``currency``."""

    currency: str
    columns: tuple[ItemColumn, ...]
    rows: tuple[RegisterRow, ...]
    totals: tuple[int, ...]

    def money(self, minor: int) -> Money:
        return Money(minor, self.currency)


def salary_register(payslips: Iterable[Payslip]) -> SalaryRegister:
    """Build the register, rows ordered by unit then employee number.

    Raises DocumentInputInvalid for an empty run or payslips in more than one currency.
    """
    slips = sorted(payslips, key=lambda p: (p.employee.unit, p.employee.number, p.reference))
    if not slips:
        raise DocumentInputInvalid("the run has no payslip")
    currencies = {p.currency for p in slips}
    if len(currencies) > 1:
        raise DocumentInputInvalid(f"one register per currency: {sorted(currencies)}")
    columns: dict[tuple[LineKind, str], ItemColumn] = {}
    for kind in _KIND_ORDER:
        for slip in slips:
            for line in slip.lines_of(kind):
                columns.setdefault(
                    (kind, line.code),
                    ItemColumn(kind, line.code, line.label_ar, line.label_fr, line.label_en),
                )
    index = {key: i for i, key in enumerate(columns)}
    rows = []
    sums = [0] * (len(columns) + 3)
    for slip in slips:
        items = [0] * len(columns)
        for line in slip.lines:
            items[index[(line.kind, line.code)]] += line.amount.minor
        values = [*items, slip.gross.minor, slip.total_deductions.minor, slip.net.minor]
        sums = [a + b for a, b in zip(sums, values, strict=True)]
        rows.append(RegisterRow(slip, tuple(items)))
    return SalaryRegister(slips[0].currency, tuple(columns.values()), tuple(rows), tuple(sums))


def register_csv(payslips: Iterable[Payslip]) -> bytes:
    """The register as CSV (UTF-8 with byte-order mark, comma separated, decimal point).

    Header: employee_number, name_latin, name_ar, unit, grade, then ``<kind>:<code>`` for each
    item column (``earning:SB``, ``deduction:IRG``, ``employer_contribution:CNAS``), gross,
    total_deductions, net, currency, channel, reference. The last row is ``TOTAL`` with the sum
    of every money column.
    """
    register = salary_register(payslips)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        [
            "employee_number", "name_latin", "name_ar", "unit", "grade",
            *(f"{c.kind.value}:{c.code}" for c in register.columns),
            "gross", "total_deductions", "net", "currency", "channel", "reference",
        ]
    )

    def figure(minor: int) -> str:
        return format(register.money(minor).to_decimal(), "f")

    for row in register.rows:
        slip = row.payslip
        employee = slip.employee
        writer.writerow(
            [
                employee.number, employee.name_latin, employee.name_ar, employee.unit,
                employee.grade, *(figure(m) for m in row.items), figure(slip.gross.minor),
                figure(slip.total_deductions.minor), figure(slip.net.minor), slip.currency,
                slip.channel.value, slip.reference,
            ]
        )
    writer.writerow(
        ["TOTAL", "", "", "", "", *(figure(m) for m in register.totals), register.currency,
         "", ""]
    )
    return buffer.getvalue().encode("utf-8-sig")


def register_pdf(employer: Employer, payslips: Iterable[Payslip], language: Language) -> bytes:
    """The register as a landscape A4 PDF: a page header and the column titles on every page,
    a subtotal per page, the run's totals on the last page and "page n of N" at the bottom."""
    register = salary_register(payslips)
    doc = Document(language, orientation="L")
    lang = language
    doc.set_title(label("register", lang))
    doc.set_auto_page_break(auto=False)
    columns, header = _columns(doc, register, lang)
    size = 7.0 if len(register.columns) <= 8 else 6.0
    row_height = 5.0
    first = register.rows[0].payslip
    title = (
        f"{label('register', lang)} — {format_period(first.period, lang, register.currency)} — "
        f"{employer.name_ar if lang == 'ar' else employer.name_latin}"
    )
    # Title block 22 mm, header row 8, a subtotal row, the grand-total row and the footer.
    usable = doc.h - doc.t_margin - 22 - 8 - 2 * row_height - 12
    per_page = max(1, math.floor(usable / row_height))
    pages = math.ceil(len(register.rows) / per_page)
    money_columns = len(register.columns) + 3
    for page in range(pages):
        doc.add_page()
        doc.text_line(title, size=12, bold=True, height=7)
        doc.text_line(
            f"{label('employees', lang)}: {len(register.rows)} · {register.currency} · "
            f"{label('page', lang)} {page + 1} {label('of', lang)} {pages}",
            size=8,
        )
        doc.ln(3)
        doc.set_fill_color(225, 230, 238)
        doc.row(columns, header, bold=True, size=size, fill=True, height=8)
        chunk = register.rows[page * per_page:(page + 1) * per_page]
        page_sums = [0] * money_columns
        for number, row in enumerate(chunk, start=page * per_page + 1):
            slip = row.payslip
            values = [*row.items, slip.gross.minor, slip.total_deductions.minor, slip.net.minor]
            page_sums = [a + b for a, b in zip(page_sums, values, strict=True)]
            doc.row(columns, _row_texts(register, str(number), slip, values, lang), size=size,
                    height=row_height)
        doc.set_fill_color(240, 240, 240)
        if pages > 1:
            doc.row(columns, _total_texts(register, f"{label('totals', lang)} ({label('page', lang)} "
                                          f"{page + 1})", page_sums, lang),
                    bold=True, size=size, fill=True, height=row_height)
        if page == pages - 1:
            doc.set_fill_color(225, 238, 228)
            doc.row(columns, _total_texts(register, label("totals", lang), list(register.totals),
                                          lang),
                    bold=True, size=size, fill=True, height=row_height)
    return bytes(doc.output())


def _columns(
    doc: Document, register: SalaryRegister, lang: Language
) -> tuple[list[Column], list[str]]:
    n = len(register.columns)
    fixed_money = 3 * 22.0
    identity = 8 + 18 + 48 + 32 + 18  # #, number, name, unit, channel
    item_width = (doc.content_width - identity - fixed_money) / n if n else 0.0
    if n and item_width < 12:
        raise DocumentInputInvalid(
            f"{n} pay items do not fit the PDF register's width; use the CSV register"
        )
    columns = [Column(8, numeric=True), Column(18), Column(48), Column(32)]
    columns += [Column(item_width, numeric=True) for _ in range(n)]
    columns += [Column(22, numeric=True)] * 3 + [Column(18)]
    # A wide run leaves spare width: give it to the name column.
    spare = doc.content_width - sum(c.width for c in columns)
    columns[2] = Column(48 + max(0.0, spare))
    header = [
        "#", label("employee_number", lang), label("name", lang), label("unit", lang),
        *(c.code for c in register.columns),
        label("gross", lang), label("deduction", lang), label("net", lang), label("channel", lang),
    ]
    return columns, header


def _row_texts(
    register: SalaryRegister, number: str, slip: Payslip, values: list[int], lang: Language
) -> list[str]:
    employee = slip.employee
    return [
        number, employee.number, employee.name(lang), employee.unit,
        *(format_amount(register.money(v), lang) for v in values),
        channel_label(slip.channel, lang),
    ]


def _total_texts(register: SalaryRegister, caption: str, sums: list[int],
                 lang: Language) -> list[str]:
    return ["", "", caption, "", *(format_amount(register.money(v), lang) for v in sums), ""]
