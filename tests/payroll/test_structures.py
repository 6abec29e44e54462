"""Payroll as worked examples: each payslip below can be checked line by line with a pencil."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from palmvein.core.money import Money
from payroll.formulas import FormulaError
from payroll.structures import (
    ComponentKind,
    EmployeeInputs,
    Liability,
    Loan,
    StructureInvalid,
    compute_payslip,
    parse_structure,
)

from .examples import ALGERIA_FROM, ALGERIA_GRADE_12


def dzd(major: str) -> int:
    return Money.of(major, "DZD").minor


def grade_12():  # type: ignore[no-untyped-def]
    return parse_structure("DZ-G12", "DZD", ALGERIA_FROM, ALGERIA_GRADE_12)


def test_algerian_grade_12_with_a_loan_line_by_line() -> None:
    slip = compute_payslip(
        grade_12(),
        EmployeeInputs(
            variables={"base_salary": dzd("45000")},
            loans=[Loan("PRET-2025-17", instalment=dzd("5000"), remaining=dzd("12000"))],
        ),
    )
    amounts = {line.code: line.amount for line in slip.lines}
    assert amounts["base"] == dzd("45000.00")
    assert amounts["iep"] == dzd("4500.00")  # 10 % of 45 000
    assert amounts["transport"] == dzd("2000.00")
    assert amounts["panier"] == dzd("1500.00")
    assert slip.gross == dzd("53000.00")  # 45 000 + 4 500 + 2 000 + 1 500
    assert amounts["ss"] == dzd("4455.00")  # 9 % of (45 000 + 4 500) = 9 % of 49 500
    # Taxable 53 000 - 4 455 = 48 545: 23 % of 20 000 (20 000..40 000) = 4 600
    # plus 27 % of 8 545 (40 000..48 545) = 2 307.15 -> 6 907.15
    assert amounts["irg"] == dzd("6907.15")
    assert amounts["loan"] == dzd("5000.00")  # the instalment; 12 000 still owed
    assert slip.deductions == dzd("16362.15")  # 4 455 + 6 907.15 + 5 000
    assert slip.net == dzd("36637.85")  # 53 000 - 16 362.15
    assert amounts["ss_employer"] == dzd("12870.00")  # 26 % of 49 500, not in gross nor net
    assert slip.owed_to() == {
        Liability.SOCIAL_SECURITY: dzd("17325.00"),  # 4 455 + 12 870
        Liability.TAX: dzd("6907.15"),
        Liability.LOAN: dzd("5000.00"),
    }
    irg = next(line for line in slip.lines if line.code == "irg")
    assert irg.base == dzd("48545.00") and irg.kind == ComponentKind.DEDUCTION


def test_last_loan_instalment_is_only_what_remains() -> None:
    slip = compute_payslip(
        grade_12(),
        EmployeeInputs(
            variables={"base_salary": dzd("30000")},
            loans=[Loan("PRET-9", instalment=dzd("5000"), remaining=dzd("3000"))],
        ),
    )
    amounts = {line.code: line.amount for line in slip.lines}
    # gross 30 000 + 3 000 + 2 000 + 1 500 = 36 500; ss 9 % of 33 000 = 2 970
    # taxable 33 530: 23 % of 13 530 = 3 111.90
    assert slip.gross == dzd("36500")
    assert amounts["ss"] == dzd("2970")
    assert amounts["irg"] == dzd("3111.90")
    assert amounts["loan"] == dzd("3000")
    assert slip.net == dzd("36500") - dzd("2970") - dzd("3111.90") - dzd("3000")


def test_half_a_centime_rounds_away_from_zero_once_per_line() -> None:
    # 9 % of 45 000.50 = 4 050.045 -> 4 050.05 (half away from zero; half-even would give .04)
    definition = {
        "components": [
            {"code": "base", "kind": "earning", "method": "formula", "formula": "base_salary"},
            {
                "code": "ss",
                "kind": "deduction",
                "method": "percentage",
                "rate": "9",
                "base": "base",
                "liability": "social_security",
            },
        ]
    }
    structure = parse_structure("R", "DZD", date(2026, 1, 1), definition)
    slip = compute_payslip(structure, EmployeeInputs(variables={"base_salary": dzd("45000.50")}))
    assert [line.amount for line in slip.lines] == [dzd("45000.50"), dzd("4050.05")]
    assert slip.net == dzd("40950.45")


def test_moroccan_style_capped_contribution_by_formula() -> None:
    # Social security on at most 6 000 MAD: 4.48 % of min(gross, 6000); a conditional bonus.
    definition = {
        "constants": {"cap": "6000"},
        "components": [
            {"code": "base", "kind": "earning", "method": "formula", "formula": "base_salary"},
            {
                "code": "bonus",
                "kind": "earning",
                "method": "formula",
                "formula": "500 if base < 8000 else 0",
            },
            {
                "code": "cnss",
                "kind": "deduction",
                "method": "formula",
                "formula": "round(min(gross, cap) * 4.48 / 100, 2)",
                "liability": "social_security",
            },
        ],
    }
    structure = parse_structure("MA-1", "MAD", date(2026, 1, 1), definition)
    low = compute_payslip(structure, EmployeeInputs(variables={"base_salary": 500000}))
    high = compute_payslip(structure, EmployeeInputs(variables={"base_salary": 900000}))
    # 5 000 + 500 bonus = 5 500 gross, 4.48 % of 5 500 = 246.40
    assert (low.gross, low.deductions) == (550000, 24640)
    # 9 000 gross, capped at 6 000: 4.48 % of 6 000 = 268.80
    assert (high.gross, high.deductions) == (900000, 26880)


def test_structure_reports_every_problem_at_once() -> None:
    definition = {
        "components": [
            {"code": "base", "kind": "earning", "method": "fixed", "amount": 1.5},
            {"code": "x", "kind": "earning", "method": "formula", "formula": "later * 2"},
            {
                "code": "later",
                "kind": "deduction",
                "method": "percentage",
                "rate": "9",
                "base": "__import__('os')",
            },
        ]
    }
    with pytest.raises(StructureInvalid) as caught:
        parse_structure("BAD", "DZD", date(2026, 1, 1), definition)
    fields = [p.field for p in caught.value.problems]
    assert fields == ["components[0].amount", "components[1].formula", "components[2].base"]


def test_missing_employee_variable_is_a_clear_error() -> None:
    with pytest.raises(FormulaError, match="base_salary"):
        compute_payslip(grade_12(), EmployeeInputs())


def test_rates_are_exact_decimals() -> None:
    component = grade_12().components[4]
    assert component.rate == Decimal(9)
