"""Reading employee files (CSV or XLSX) into checked records, with every problem reported.

Pure: no database. :func:`read_rows` turns a file into header-keyed rows; :func:`validate_rows`
checks each field of each row and the file as a whole (duplicate employee numbers) and returns
the good records together with every problem found, each with its row number (as a spreadsheet
shows it, the header being row 1) and its column. The service books nothing unless the list of
problems is empty.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import InvalidOperation
from enum import StrEnum
from pathlib import Path

from palmvein.core.errors import ValidationFailed
from palmvein.core.money import Money
from payroll.accounts import AccountScheme, validate_account


class EmployeeStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    LEFT = "left"


REQUIRED = (
    "employee_number",
    "name_latin",
    "name_arabic",
    "national_id",
    "unit",
    "grade",
    "pay_point",
    "status",
)
OPTIONAL = (
    "account_scheme",
    "account_number",
    "subject_id",
    "base_salary",
    "loan_reference",
    "loan_instalment",
    "loan_balance",
)
COLUMNS = REQUIRED + OPTIONAL
MAX_ROWS = 500_000

_EMPLOYEE_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_/]{0,39}")
_NATIONAL_ID = re.compile(r"[A-Za-z0-9]{5,20}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.]{0,39}")


class ImportFileUnreadable(ValidationFailed):
    code = "payroll-import-unreadable"


@dataclass(frozen=True, slots=True)
class ImportProblem:
    row: int  # 1 is the header row
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class EmployeeRecord:
    """One checked row of an employee file; amounts in minor units of the import currency."""

    row: int
    employee_number: str
    name_latin: str
    name_arabic: str
    national_id: str
    unit: str
    grade: str
    pay_point: str
    status: EmployeeStatus
    account_scheme: AccountScheme | None
    account_number: str | None
    subject_id: str | None
    base_salary: int | None
    loan_reference: str | None
    loan_instalment: int | None
    loan_balance: int | None


# -- reading ----------------------------------------------------------------------------------


def _header(name: object) -> str:
    return str(name or "").strip().lower().replace(" ", "_")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # Spreadsheets store typed numbers as floats; 45000.0 means 45000.
        return str(int(value))
    return str(value).strip()


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header names and rows (header -> cell text) of a ``.csv`` or ``.xlsx`` file."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _read_csv(path.read_bytes())
        if suffix in (".xlsx", ".xlsm"):
            return _read_xlsx(path)
    except (OSError, UnicodeDecodeError, csv.Error, ValueError, KeyError) as exc:
        raise ImportFileUnreadable(f"cannot read {path.name}: {exc}") from None
    raise ImportFileUnreadable(f"{path.name}: employee files are .csv or .xlsx")


def _read_csv(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    text = data.decode("utf-8-sig")
    dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text.strip() else csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    return _keyed(reader)


def _read_xlsx(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    from openpyxl import load_workbook  # slow import, only when a workbook comes

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows = ([_cell(v) for v in row] for row in sheet.iter_rows(values_only=True))
        return _keyed(rows)
    finally:
        workbook.close()


def _keyed(rows: Iterator[Sequence[str]]) -> tuple[list[str], list[dict[str, str]]]:
    header = [_header(name) for name in next(rows, [])]
    keyed: list[dict[str, str]] = []
    for cells in rows:
        if not any(str(c).strip() for c in cells):
            keyed.append({})  # keep the row numbering; blank rows are skipped later
            continue
        keyed.append({name: str(c).strip() for name, c in zip(header, cells) if name})
        if len(keyed) > MAX_ROWS:
            raise ValueError(f"more than {MAX_ROWS} rows")
    return header, keyed


# -- validating -------------------------------------------------------------------------------


def _has_script(text: str, script: str) -> bool:
    return any(unicodedata.name(ch, "").startswith(script) for ch in text if ch.isalpha())


def _only_script(text: str, script: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and all(unicodedata.name(ch, "").startswith(script) for ch in letters)


class _Row:
    def __init__(self, number: int, cells: Mapping[str, str], problems: list[ImportProblem]):
        self.number, self.cells, self.problems = number, cells, problems

    def problem(self, field: str, message: str) -> None:
        self.problems.append(ImportProblem(self.number, field, message))

    def text(self, field: str, *, required: bool, max_length: int = 200) -> str | None:
        value = self.cells.get(field, "").strip()
        if not value:
            if required:
                self.problem(field, "is required")
            return None
        if len(value) > max_length:
            self.problem(field, f"is longer than {max_length} characters")
            return None
        return value

    def matching(self, field: str, pattern: re.Pattern[str], what: str) -> str | None:
        value = self.text(field, required=True)
        if value is not None and not pattern.fullmatch(value):
            self.problem(field, f"{value!r} is not {what}")
            return None
        return value

    def amount(self, field: str, currency: str) -> int | None:
        value = self.text(field, required=False, max_length=30)
        if value is None:
            return None
        try:
            money = Money.of(value.replace(" ", "").replace(",", "."), currency)
        except ValidationFailed as exc:
            self.problem(field, exc.message)
            return None
        except (InvalidOperation, ValueError):
            self.problem(field, f"{value!r} is not an amount")
            return None
        if money.minor < 0:
            self.problem(field, "must not be negative")
            return None
        return money.minor


def validate_rows(
    header: Sequence[str], rows: Sequence[Mapping[str, str]], *, currency: str
) -> tuple[list[EmployeeRecord], list[ImportProblem]]:
    """Check every row; returns the good records and every problem (empty when all is well)."""
    problems: list[ImportProblem] = []
    for column in REQUIRED:
        if column not in header:
            problems.append(ImportProblem(1, column, "required column is missing"))
    for column in header:
        if column and column not in COLUMNS:
            problems.append(
                ImportProblem(1, column, f"unknown column (known: {', '.join(COLUMNS)})")
            )
    if problems:
        return [], problems
    records: list[EmployeeRecord] = []
    first_row_of: dict[str, int] = {}
    for index, cells in enumerate(rows):
        if not cells:
            continue
        number = index + 2
        record = _validate_row(_Row(number, cells, problems), currency)
        if record is None:
            continue
        if record.employee_number in first_row_of:
            problems.append(
                ImportProblem(
                    number,
                    "employee_number",
                    f"{record.employee_number} already on row {first_row_of[record.employee_number]}",
                )
            )
            continue
        first_row_of[record.employee_number] = number
        records.append(record)
    if not records and not problems:
        problems.append(ImportProblem(1, "", "the file has no employee rows"))
    return records, problems


def _validate_row(row: _Row, currency: str) -> EmployeeRecord | None:
    before = len(row.problems)
    employee_number = row.matching("employee_number", _EMPLOYEE_NUMBER, "an employee number")
    name_latin = row.text("name_latin", required=True)
    if name_latin is not None and not _only_script(name_latin, "LATIN"):
        row.problem("name_latin", "must be written in Latin letters")
    name_arabic = row.text("name_arabic", required=True)
    if name_arabic is not None and not _has_script(name_arabic, "ARABIC"):
        row.problem("name_arabic", "must be written in Arabic script")
    national_id = row.matching("national_id", _NATIONAL_ID, "5 to 20 letters or digits")
    unit = row.text("unit", required=True)
    grade = row.matching("grade", _CODE, "a grade code")
    pay_point = row.matching("pay_point", _CODE, "a pay point code")
    status_text = row.text("status", required=True)
    status: EmployeeStatus | None = None
    if status_text is not None:
        try:
            status = EmployeeStatus(status_text.lower())
        except ValueError:
            row.problem("status", f"{status_text!r} is not one of active, suspended, left")
    scheme_text = row.text("account_scheme", required=False)
    account_text = row.text("account_number", required=False, max_length=40)
    scheme: AccountScheme | None = None
    account: str | None = None
    if scheme_text is not None:
        try:
            scheme = AccountScheme(scheme_text.lower())
        except ValueError:
            known = ", ".join(s.value for s in AccountScheme)
            row.problem("account_scheme", f"{scheme_text!r} is not one of {known}")
    if (scheme is None) != (account_text is None) and not (scheme_text and scheme is None):
        row.problem("account_number", "account_scheme and account_number go together")
    elif scheme is not None and account_text is not None:
        check = validate_account(scheme, account_text)
        if check.error is not None:
            row.problem("account_number", check.error)
        account = check.normalized
    subject_id = row.text("subject_id", required=False, max_length=36)
    base_salary = row.amount("base_salary", currency)
    loan_reference = row.text("loan_reference", required=False, max_length=40)
    loan_instalment = row.amount("loan_instalment", currency)
    loan_balance = row.amount("loan_balance", currency)
    loan_fields = (loan_reference, loan_instalment, loan_balance)
    if any(v is not None for v in loan_fields) and any(v is None for v in loan_fields):
        row.problem("loan_reference", "a loan needs loan_reference, loan_instalment, loan_balance")
    if len(row.problems) > before:
        return None
    assert employee_number and name_latin and name_arabic and national_id and unit
    assert grade and pay_point and status is not None
    return EmployeeRecord(
        row=row.number,
        employee_number=employee_number,
        name_latin=name_latin,
        name_arabic=name_arabic,
        national_id=national_id,
        unit=unit,
        grade=grade,
        pay_point=pay_point,
        status=status,
        account_scheme=scheme,
        account_number=account,
        subject_id=subject_id,
        base_salary=base_salary,
        loan_reference=loan_reference,
        loan_instalment=loan_instalment,
        loan_balance=loan_balance,
    )
