"""Salary structures used by the payroll tests and the demo, written as a payroll office would."""

from __future__ import annotations

from datetime import date
from typing import Any

# Illustrative only: brackets shaped like Algeria's 2022 monthly IRG scale, without the 40 %
# abatement and the smoothing for low salaries. Not for real payroll.
IRG_ILLUSTRATIVE = [
    ["0", "0"],
    ["20000", "23"],
    ["40000", "27"],
    ["80000", "30"],
    ["160000", "33"],
    ["320000", "35"],
]

ALGERIA_GRADE_12: dict[str, Any] = {
    "constants": {},
    "components": [
        {
            "code": "base",
            "label": "Salaire de base",
            "kind": "earning",
            "method": "formula",
            "formula": "base_salary",
        },
        {
            "code": "iep",
            "label": "IEP (expérience)",
            "kind": "earning",
            "method": "percentage",
            "rate": "10",
            "base": "base",
        },
        {
            "code": "transport",
            "label": "Transport",
            "kind": "earning",
            "method": "fixed",
            "amount": "2000",
        },
        {
            "code": "panier",
            "label": "Panier",
            "kind": "earning",
            "method": "fixed",
            "amount": "1500",
        },
        {
            "code": "ss",
            "label": "Sécurité sociale 9 %",
            "kind": "deduction",
            "method": "percentage",
            "rate": "9",
            "base": "base + iep",
            "liability": "social_security",
        },
        {
            "code": "irg",
            "label": "IRG",
            "kind": "deduction",
            "method": "brackets",
            "base": "gross - ss",
            "brackets": IRG_ILLUSTRATIVE,
            "liability": "tax",
        },
        {"code": "loan", "label": "Prêt", "kind": "deduction", "method": "loan"},
        {
            "code": "ss_employer",
            "label": "Part patronale 26 %",
            "kind": "employer_contribution",
            "method": "percentage",
            "rate": "26",
            "base": "base + iep",
            "liability": "social_security",
        },
    ],
}
ALGERIA_FROM = date(2026, 1, 1)
