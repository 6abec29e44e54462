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
from .labels import label
from .pdfkit import FONT_FAMILY, Column, Document
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
            "employee_number",
            "name_latin",
            "name_ar",
            "unit",
            "grade",
            *(f"{c.kind.value}:{c.code}" for c in register.columns),
            "gross",
            "total_deductions",
            "net",
            "currency",
            "channel",
            "reference",
        ]
    )

    def figure(minor: int) -> str:
        return format(register.money(minor).to_decimal(), "f")

    for row in register.rows:
        slip = row.payslip
        employee = slip.employee
        writer.writerow(
            [
                employee.number,
                employee.name_latin,
                employee.name_ar,
                employee.unit,
                employee.grade,
                *(figure(m) for m in row.items),
                figure(slip.gross.minor),
                figure(slip.total_deductions.minor),
                figure(slip.net.minor),
                slip.currency,
                slip.channel.value,
                slip.reference,
            ]
        )
    writer.writerow(
        ["TOTAL", "", "", "", "", *(figure(m) for m in register.totals), register.currency, "", ""]
    )
    return buffer.getvalue().encode("utf-8-sig")


def register_pdf(
    employer: Employer, payslips: Iterable[Payslip], language: Language, *, preview: bool = False
) -> bytes:
    """The register as a landscape A4 PDF: a page header and the column titles on every page,
    a subtotal per page when there are several, the run's totals on the last page and "page n
    of N" in each page header. ``preview`` adds "PREVIEW, figures not final" to the title.

    Column widths are measured from the text they hold; the font shrinks down to 5.5 pt for wide
    runs and names are cut short before anything else. Raises DocumentInputInvalid when the
    figures still do not fit (too many pay items: use the CSV register).
    """
    register = salary_register(payslips)
    doc = Document(language, orientation="L")
    lang = language
    doc.set_title(label("register", lang))
    doc.set_auto_page_break(auto=False)
    header = [
        "#",
        label("employee_number", lang),
        label("name", lang),
        label("unit", lang),
        *(c.code for c in register.columns),
        label("gross", lang),
        label("deduction", lang),
        label("net", lang),
        label("channel", lang),
    ]
    body = [
        _row_texts(register, str(n), row.payslip, _values(row), lang)
        for n, row in enumerate(register.rows, start=1)
    ]
    totals = _total_texts(register, label("totals", lang), list(register.totals), lang)
    widest_caption = f"{label('totals', lang)} ({label('page', lang)} {len(register.rows)})"
    size, columns = _fit_columns(
        doc,
        header,
        body,
        [*totals[:_NAME], widest_caption, *totals[_NAME + 1 :]],
        len(register.columns),
    )
    row_height = 5.0
    first = register.rows[0].payslip
    title = (
        f"{label('register', lang)} — {format_period(first.period, lang, register.currency)} — "
        f"{employer.name_ar if lang == 'ar' else employer.name_latin}"
    )
    if preview:
        title += f" — {label('preview', lang)}"
    # Title block 22 mm, header row 8, a subtotal row, the grand-total row and a bottom margin.
    usable = doc.h - doc.t_margin - 22 - 8 - 2 * row_height - 12
    per_page = max(1, math.floor(usable / row_height))
    pages = math.ceil(len(register.rows) / per_page)
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
        start = page * per_page
        page_rows = register.rows[start : start + per_page]
        for texts in body[start : start + per_page]:
            doc.row(columns, _clip(doc, columns, texts), size=size, height=row_height)
        if pages > 1:
            page_sums = [sum(column) for column in zip(*map(_values, page_rows), strict=True)]
            doc.set_fill_color(240, 240, 240)
            caption = f"{label('totals', lang)} ({label('page', lang)} {page + 1})"
            doc.row(
                columns,
                _total_texts(register, caption, page_sums, lang),
                bold=True,
                size=size,
                fill=True,
                height=row_height,
            )
        if page == pages - 1:
            doc.set_fill_color(225, 238, 228)
            doc.row(columns, totals, bold=True, size=size, fill=True, height=row_height)
    return bytes(doc.output())


_NAME, _UNIT = 2, 3


def _values(row: RegisterRow) -> list[int]:
    slip = row.payslip
    return [*row.items, slip.gross.minor, slip.total_deductions.minor, slip.net.minor]


def _fit_columns(
    doc: Document, header: list[str], body: list[list[str]], totals: list[str], items: int
) -> tuple[float, list[Column]]:
    money = range(4, 4 + items + 3)
    padding = 2 * doc.c_margin + 0.6
    for size in (7.5, 7.0, 6.5, 6.0, 5.5):
        widths = []
        for i, head in enumerate(header):
            doc.set_font(FONT_FAMILY, "B", size)
            widest = max(doc.get_string_width(head), doc.get_string_width(totals[i]))
            doc.set_font(FONT_FAMILY, "", size)
            widest = max([widest, *(doc.get_string_width(r[i]) for r in body)])
            widths.append(widest + padding)
        # Names and units may be cut short; figures may not.
        widths[_NAME] = min(widths[_NAME], 55.0)
        widths[_UNIT] = min(widths[_UNIT], 30.0)
        spare = doc.content_width - sum(widths)
        for column, narrowest in ((_UNIT, 18.0), (_NAME, 28.0)):
            if spare < 0:
                cut = max(0.0, min(-spare, widths[column] - narrowest))
                widths[column] -= cut
                spare += cut
        if spare >= 0:
            widths[_NAME] += spare
            return size, [Column(w, numeric=i in money or i == 0) for i, w in enumerate(widths)]
    raise DocumentInputInvalid(
        f"{items} pay items do not fit the PDF register's width; use the CSV register"
    )


def _clip(doc: Document, columns: list[Column], texts: list[str]) -> list[str]:
    """Cut names and units wider than their column, marking the cut with an ellipsis."""
    clipped = list(texts)
    for i in (_NAME, _UNIT):
        room = columns[i].width - 2 * doc.c_margin
        text = clipped[i]
        while len(text) > 1 and doc.get_string_width(text) > room:
            text = text[:-2] + "…"
        clipped[i] = text
    return clipped


def _row_texts(
    register: SalaryRegister, number: str, slip: Payslip, values: list[int], lang: Language
) -> list[str]:
    employee = slip.employee
    return [
        number,
        employee.number,
        employee.name(lang),
        employee.unit,
        *(format_amount(register.money(v), lang) for v in values),
        label(f"{slip.channel.value}_short", lang),
    ]


def _total_texts(
    register: SalaryRegister, caption: str, sums: list[int], lang: Language
) -> list[str]:
    return ["", "", caption, "", *(format_amount(register.money(v), lang) for v in sums), ""]
