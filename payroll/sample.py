"""Generated payroll data for the demo, the benchmark and tests: an illustrative Algerian salary
structure and employee files with valid account keys, deterministic from a seed."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from payroll.accounts import ccp_key, rib_dz_key, rip_of_ccp
from payroll.importer import COLUMNS

# Illustrative only: brackets shaped like Algeria's 2022 monthly IRG scale (DZD), without the
# 40 % abatement and the smoothing for low salaries. Not for real payroll.
IRG_ILLUSTRATIVE = [
    ["0", "0"],
    ["20000", "23"],
    ["40000", "27"],
    ["80000", "30"],
    ["160000", "33"],
    ["320000", "35"],
]

ALGERIA_FROM = date(2026, 1, 1)


def algeria_structure() -> dict[str, Any]:
    """Base salary from the employee file, 10 % experience allowance, transport and meal
    allowances, 9 % employee social security on base + allowance, IRG by bracket on gross less
    social security, loan instalments, and the employer's 26 % social security share."""
    return {
        "constants": {},
        "components": [
            {"code": "base", "label": "Salaire de base", "kind": "earning", "method": "formula",
             "formula": "base_salary"},
            {"code": "iep", "label": "IEP (expérience)", "kind": "earning",
             "method": "percentage", "rate": "10", "base": "base"},
            {"code": "transport", "label": "Transport", "kind": "earning", "method": "fixed",
             "amount": "2000"},
            {"code": "panier", "label": "Panier", "kind": "earning", "method": "fixed",
             "amount": "1500"},
            {"code": "ss", "label": "Sécurité sociale 9 %", "kind": "deduction",
             "method": "percentage", "rate": "9", "base": "base + iep",
             "liability": "social_security"},
            {"code": "irg", "label": "IRG", "kind": "deduction", "method": "brackets",
             "base": "gross - ss", "brackets": IRG_ILLUSTRATIVE, "liability": "tax"},
            {"code": "loan", "label": "Prêt", "kind": "deduction", "method": "loan"},
            {"code": "ss_employer", "label": "Part patronale 26 %",
             "kind": "employer_contribution", "method": "percentage", "rate": "26",
             "base": "base + iep", "liability": "social_security"},
        ],
    }  # fmt: skip


_LATIN = [
    "Amina",
    "Karim",
    "Yacine",
    "Samira",
    "Nadia",
    "Omar",
    "Leila",
    "Walid",
    "Imane",
    "Sofiane",
]
_ARABIC = ["أمينة", "كريم", "ياسين", "سميرة", "نادية", "عمر", "ليلى", "وليد", "إيمان", "سفيان"]
_FAMILY_LATIN = ["Benali", "Haddad", "Mansouri", "Bouzid", "Cherif", "Saadi", "Khelifa", "Ziani"]
_FAMILY_ARABIC = ["بن علي", "حداد", "منصوري", "بوزيد", "شريف", "سعدي", "خليفة", "زياني"]
UNITS = ["Direction de l'éducation", "Hôpital de wilaya", "APC centre", "Direction des travaux"]
PAY_POINTS = ["PP-ALGER-01", "PP-ALGER-02", "PP-BLIDA-01"]


def employee_rows(
    count: int,
    *,
    seed: int = 7,
    prefix: str = "E",
    grade: str = "G12",
    subject_ids: Sequence[str | None] = (),
) -> list[dict[str, str]]:
    """``count`` valid employee rows; ``subject_ids[i]`` (if given) links row ``i``'s palm."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for i in range(count):
        first = rng.randrange(len(_LATIN))
        family = rng.randrange(len(_FAMILY_LATIN))
        ccp = str(rng.randrange(10**6, 10**10))
        channel = rng.random()
        if channel < 0.5:
            scheme, account = "ccp", f"{ccp} {ccp_key(ccp)}"
        elif channel < 0.8:
            scheme, account = "rib_dz", rip_of_ccp(ccp)
        else:
            branch, number = f"{rng.randrange(10**5):05d}", f"{rng.randrange(10**10):010d}"
            scheme, account = "rib_dz", "001" + branch + number + rib_dz_key(branch, number)
        has_loan = rng.random() < 0.15
        rows.append(
            {
                "employee_number": f"{prefix}{i + 1:06d}",
                "name_latin": f"{_LATIN[first]} {_FAMILY_LATIN[family]}",
                "name_arabic": f"{_ARABIC[first]} {_FAMILY_ARABIC[family]}",
                "national_id": f"{rng.randrange(10**17, 10**18)}",
                "unit": rng.choice(UNITS),
                "grade": grade,
                "pay_point": rng.choice(PAY_POINTS),
                "status": "active",
                "account_scheme": scheme,
                "account_number": account,
                "subject_id": (subject_ids[i] or "") if i < len(subject_ids) else "",
                # Bases on a 500 DZD grid, as grade scales are: many employees share one.
                "base_salary": str(rng.randrange(60, 160) * 500),
                "loan_reference": f"PRET-{i + 1:06d}" if has_loan else "",
                "loan_instalment": "5000" if has_loan else "",
                "loan_balance": str(rng.randrange(1, 12) * 2500) if has_loan else "",
            }
        )
    return rows


def write_csv(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("employees")
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([row.get(column, "") for column in COLUMNS])
    workbook.save(path)
    return path
