"""Payslip PDF: one page per payslip, in Arabic (right to left), French or English."""

from __future__ import annotations

from collections.abc import Iterable

from .formatting import format_amount, format_period, format_rate
from .labels import channel_label, label
from .pdfkit import Column, Document
from .types import Employer, Language, LineKind, Payslip, PayslipLine
from .words import amount_in_words


def payslip_pdf(
    employer: Employer, payslip: Payslip, language: Language, *, preview: bool = False
) -> bytes:
    """One payslip as a one-page PDF document."""
    return payslips_pdf(employer, [payslip], language, preview=preview)


def payslips_pdf(
    employer: Employer, payslips: Iterable[Payslip], language: Language, *, preview: bool = False
) -> bytes:
    """Several payslips of one employer in one PDF, one page each (for printing a whole unit).

    ``preview`` adds "PREVIEW, figures not final" (in the page's language) to every title: for
    payslips of a run that is computed but not yet posted.
    """
    document = Document(language)
    document.set_title(label("payslip", language))
    document.set_author(employer.name_ar if language == "ar" else employer.name_latin)
    count = 0
    for payslip in payslips:
        _draw_payslip(document, employer, payslip, preview)
        count += 1
    if count == 0:
        raise ValueError("no payslips to print")
    return bytes(document.output())


def _draw_payslip(doc: Document, employer: Employer, payslip: Payslip, preview: bool) -> None:
    lang = doc.language
    doc.add_page()
    period = format_period(payslip.period, lang, payslip.currency)
    title = f"{label('payslip', lang)} — {period}"
    if preview:
        title += f" — {label('preview', lang)}"
    doc.text_line(title, size=14, bold=True, height=8)
    doc.text_line(f"{label('reference', lang)}: {payslip.reference}", size=8)
    doc.ln(2)

    _draw_parties(doc, employer, payslip)
    doc.ln(3)
    _draw_lines(doc, payslip)
    doc.ln(3)
    _draw_net(doc, payslip)


def _draw_parties(doc: Document, employer: Employer, payslip: Payslip) -> None:
    lang = doc.language
    employee = payslip.employee
    other_name = employer.name_latin if lang == "ar" else employer.name_ar
    employer_pairs = [
        (label("employer", lang), employer.name_ar if lang == "ar" else employer.name_latin),
        ("", other_name),
        ("", employer.address),
        (label("tax_id", lang), employer.tax_id),
    ]
    employee_pairs = [
        (label("employee_number", lang), employee.number),
        (label("name", lang), employee.name(lang)),
        ("", employee.name_latin if lang == "ar" else employee.name_ar),
        (label("unit", lang), employee.unit),
        (label("grade", lang), employee.grade),
        (label("national_id", lang), employee.national_id),
        (label("channel", lang), channel_label(payslip.channel, lang)),
    ]
    if employee.account is not None:
        account = employee.account
        employee_pairs.append(
            (label("account", lang), f"{account.scheme.value.upper()} {account.identifier}")
        )
        bic = f" · BIC {account.bic}" if account.bic else ""
        employee_pairs.append((label("bank_name", lang), f"{account.bank_name}{bic}"))

    half = doc.content_width / 2
    top = doc.get_y()
    # The employer reads first: on the left in French and English, on the right in Arabic.
    first_x, second_x = (
        (doc.l_margin + half, doc.l_margin) if doc.rtl else (doc.l_margin, doc.l_margin + half)
    )
    bottom_employer = doc.key_values(employer_pairs, key_width=28, width=half - 2, x=first_x)
    doc.set_y(top)
    bottom_employee = doc.key_values(employee_pairs, key_width=38, width=half, x=second_x)
    doc.set_y(max(bottom_employer, bottom_employee))


def _draw_lines(doc: Document, payslip: Payslip) -> None:
    lang = doc.language
    has_employer_share = any(line.kind is LineKind.EMPLOYER_CONTRIBUTION for line in payslip.lines)
    amount_width = 25.0
    fixed = 12 + 23 + 13 + amount_width * (3 if has_employer_share else 2)
    columns = [
        Column(12),
        Column(doc.content_width - fixed),
        Column(23, numeric=True),
        Column(13, numeric=True),
        Column(amount_width, numeric=True),
        Column(amount_width, numeric=True),
    ]
    header = [
        label("code", lang),
        label("label", lang),
        label("base", lang),
        label("rate", lang),
        label("earning", lang),
        label("deduction", lang),
    ]
    if has_employer_share:
        columns.append(Column(amount_width, numeric=True))
        header.append(label("employer_contribution", lang))

    doc.set_fill_color(225, 230, 238)
    doc.row(columns, header, bold=True, fill=True)
    ordered = (
        payslip.lines_of(LineKind.EARNING)
        + payslip.lines_of(LineKind.DEDUCTION)
        + payslip.lines_of(LineKind.EMPLOYER_CONTRIBUTION)
    )
    for line in ordered:
        doc.row(columns, _line_cells(line, lang, has_employer_share))
    totals = [
        "",
        label("totals", lang),
        "",
        "",
        format_amount(payslip.gross, lang),
        format_amount(payslip.total_deductions, lang),
    ]
    if has_employer_share:
        totals.append(format_amount(payslip.sum_of(LineKind.EMPLOYER_CONTRIBUTION), lang))
    doc.row(columns, totals, bold=True, fill=True)


def _line_cells(line: PayslipLine, lang: Language, has_employer_share: bool) -> list[str]:
    amount = format_amount(line.amount, lang)
    cells = [
        line.code,
        line.label(lang),
        format_amount(line.base, lang) if line.base is not None else "",
        format_rate(line.rate, lang) if line.rate is not None else "",
        amount if line.kind is LineKind.EARNING else "",
        amount if line.kind is LineKind.DEDUCTION else "",
    ]
    if has_employer_share:
        cells.append(amount if line.kind is LineKind.EMPLOYER_CONTRIBUTION else "")
    return cells


def _draw_net(doc: Document, payslip: Payslip) -> None:
    lang = doc.language
    summary = [
        (label("gross", lang), payslip.gross),
        (label("total_deductions", lang), payslip.total_deductions),
    ]
    half = doc.content_width / 2
    x = doc.l_margin if doc.rtl else doc.l_margin + half
    for caption, amount in summary:
        doc.set_x(x)
        doc.row_at(x, half, caption, f"{format_amount(amount, lang)} {payslip.currency}")
    doc.set_fill_color(225, 238, 228)
    doc.row_at(
        x,
        half,
        label("net", lang),
        f"{format_amount(payslip.net, lang)} {payslip.currency}",
        bold=True,
        size=11,
        fill=True,
    )
    doc.ln(3)
    doc.text_line(label("net_in_words", lang), bold=True, size=9)
    words = amount_in_words(payslip.net, lang) if payslip.net.minor >= 0 else "—"
    doc.paragraph(words, size=10)
