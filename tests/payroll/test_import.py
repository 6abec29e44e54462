"""Employee files: every problem reported with row and column, all-or-nothing, re-import updates."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from payroll import service
from payroll.errors import ImportRejected
from payroll.models import Employee, Loan
from payroll.sample import employee_rows, write_csv, write_xlsx

from .conftest import Office


def count(office: Office) -> int:
    return int(office.session.scalar(select(func.count()).select_from(Employee)) or 0)


def test_a_bad_file_reports_every_problem_and_books_nothing(office: Office) -> None:
    rows = employee_rows(6, seed=3)
    rows[0]["account_number"] = rows[0]["account_number"][:-1] + (
        "0" if rows[0]["account_number"][-1] != "0" else "1"
    )  # wrong key
    rows[1]["name_arabic"] = "Karim"  # not Arabic script
    rows[2]["status"] = "retired"
    rows[2]["base_salary"] = "12.345"  # three decimals in DZD
    rows[3]["employee_number"] = rows[4]["employee_number"]  # duplicate in the file
    rows[5]["subject_id"] = "nobody-enrolled-this"
    rows[5]["grade"] = ""
    path = write_csv(office.tmp / "bad.csv", rows)
    with pytest.raises(ImportRejected) as caught:
        service.import_file(office.session, path, currency="DZD", actor="hr", now=office.now)
    office.session.rollback()
    found = [(p.field, p.message.split()[0]) for p in caught.value.problems]
    assert [f for f, _ in found] == [
        "row 2: account_number",
        "row 3: name_arabic",
        "row 4: base_salary",
        "row 4: status",
        "row 6: employee_number",
        "row 7: grade",
        "row 7: subject_id",
    ]
    assert count(office) == 0


def test_missing_and_unknown_columns_are_reported_on_the_header_row(office: Office) -> None:
    path = office.tmp / "cols.csv"
    path.write_text("employee_number,name_latin,salary\nE1,Amina,100\n", encoding="utf-8")
    _, report = service.check_import(office.session, path, currency="DZD")
    fields = {p.field for p in report.problems}
    assert {p.row for p in report.problems} == {1}
    assert {"name_arabic", "national_id", "status", "salary"} <= fields


def test_xlsx_import_then_reimport_updates_by_employee_number(office: Office) -> None:
    rows = employee_rows(5, seed=4)
    rows[0].update(loan_reference="PRET-A", loan_instalment="5000", loan_balance="20000")
    report = service.import_file(
        office.session, write_xlsx(office.tmp / "e.xlsx", rows), currency="DZD",
        actor="hr", now=office.now,
    )  # fmt: skip
    office.session.commit()
    assert (report.created, report.updated, report.unchanged) == (5, 0, 0)
    rows[1]["unit"] = "Hôpital de wilaya"
    rows[1]["status"] = "left"
    rows[0]["loan_balance"] = "15000"
    again = service.import_file(
        office.session, write_csv(office.tmp / "e.csv", rows), currency="DZD",
        actor="hr", now=office.now,
    )  # fmt: skip
    office.session.commit()
    assert (again.created, again.updated, again.unchanged) == (0, 1, 4)
    assert count(office) == 5
    assert service.get_employee(office.session, rows[1]["employee_number"]).status == "left"
    assert (
        office.session.scalar(select(Loan.remaining).where(Loan.reference == "PRET-A")) == 1_500_000
    )
