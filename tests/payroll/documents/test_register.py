"""Salary register: a row per employee, a column per pay item, totals; CSV and paginated PDF."""

import csv
import io
from dataclasses import replace
from decimal import Decimal

import pytest
from pypdf import PdfReader

from payroll.documents import (
    DocumentInputInvalid,
    Employer,
    LineKind,
    Payslip,
    register_csv,
    register_pdf,
    salary_register,
)
from payroll.documents.examples import example_employees, example_payslip


def test_columns_rows_and_totals(run: list[Payslip]) -> None:
    register = salary_register(run)
    assert [(c.kind, c.code) for c in register.columns] == [
        (LineKind.EARNING, "SB"),
        (LineKind.EARNING, "IEP"),
        (LineKind.EARNING, "PRI"),
        (LineKind.DEDUCTION, "SS"),
        (LineKind.DEDUCTION, "IRG"),
        (LineKind.EMPLOYER_CONTRIBUTION, "CNAS"),
    ]
    assert len(register.rows) == len(run)
    gross, deductions, net = register.totals[-3:]
    assert gross == sum(p.gross.minor for p in run)
    assert net == sum(p.net.minor for p in run) == gross - deductions
    assert register.totals[0] == sum(p.lines[0].amount.minor for p in run)


def test_same_code_twice_adds_up_in_one_column(run: list[Payslip]) -> None:
    slip = run[0]
    doubled = replace(
        slip,
        lines=(*slip.lines, slip.lines[0]),
        gross=slip.gross + slip.lines[0].amount,
        net=slip.net + slip.lines[0].amount,
    )
    register = salary_register([doubled])
    assert register.rows[0].items[0] == 2 * slip.lines[0].amount.minor


def test_csv(run: list[Payslip]) -> None:
    rows = list(csv.reader(io.StringIO(register_csv(run).decode("utf-8-sig"))))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[5:8] == ["earning:SB", "earning:IEP", "earning:PRI"]
    assert len(body) == len(run) and total[0] == "TOTAL"
    net = header.index("net")
    assert (
        Decimal(total[net])
        == sum(Decimal(r[net]) for r in body)
        == sum(p.net.to_decimal() for p in run)
    )
    for column in range(5, net + 1):  # every money column is totalled
        assert Decimal(total[column]) == sum(Decimal(r[column]) for r in body)


def test_pdf_is_landscape_paginated_with_totals(employer: Employer) -> None:
    template = example_employees()[0]
    run = [
        example_payslip(replace(template, number=f"E-{i:04d}"), f"{30000 + i * 731}.25")
        for i in range(70)
    ]
    reader = PdfReader(io.BytesIO(register_pdf(employer, run, "fr")))
    pages = reader.pages
    assert len(pages) == 3
    assert all(float(p.mediabox.width) > float(p.mediabox.height) for p in pages)
    texts = [" ".join(p.extract_text().split()) for p in pages]
    assert all("Livre de paie" in t and "Net à payer" in t for t in texts)  # header on each page
    assert "Page 1 sur 3" in texts[0] and "Page 3 sur 3" in texts[2]
    grand_net = sum(p.net.minor for p in run)
    figures = f"{grand_net // 100:,}".replace(",", " ") + f",{grand_net % 100:02d}"
    assert figures in texts[2] and figures not in texts[0]
    assert "Totaux (Page 1)" in texts[0]


def test_arabic_pdf(employer: Employer, run: list[Payslip]) -> None:
    text = " ".join(
        PdfReader(io.BytesIO(register_pdf(employer, run, "ar"))).pages[0].extract_text().split()
    )
    assert "سجل الأجور" in text and "سميرة مثال" in text and "المجموع" in text


def test_empty_run_is_refused() -> None:
    with pytest.raises(DocumentInputInvalid, match="no payslip"):
        salary_register([])
