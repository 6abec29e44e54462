"""Payslips that do not add up are refused before any document is made."""

from dataclasses import replace

import pytest

from palmvein.core.money import Money
from payroll.documents import DocumentInputInvalid, LineKind, PaymentChannel, PayPeriod, Payslip


def test_example_payslip_adds_up(run: list[Payslip]) -> None:
    slip = run[0]
    assert slip.gross == slip.sum_of(LineKind.EARNING) == Money(5_670_000, "DZD")
    assert slip.net == slip.gross - slip.total_deductions == Money(4_540_536, "DZD")


def test_wrong_totals_are_listed_together(run: list[Payslip]) -> None:
    slip = run[0]
    with pytest.raises(DocumentInputInvalid) as caught:
        replace(slip, gross=slip.gross + Money(1, "DZD"), net=slip.net - Money(1, "DZD"))
    fields = {p.field for p in caught.value.problems}
    assert fields == {"gross", "net"}


def test_mixed_currency_line_is_refused(run: list[Payslip]) -> None:
    slip = run[0]
    bad = replace(slip.lines[0], amount=Money(slip.lines[0].amount.minor, "MAD"))
    with pytest.raises(DocumentInputInvalid, match="mixed currencies"):
        replace(slip, lines=(bad, *slip.lines[1:]))


def test_bank_payment_needs_an_account(run: list[Payslip]) -> None:
    cash = run[3]
    assert cash.employee.account is None
    with pytest.raises(DocumentInputInvalid, match="does not add up") as caught:
        replace(cash, channel=PaymentChannel.BANK)
    assert caught.value.problems[0].field == "employee.account"


def test_pay_period() -> None:
    november = PayPeriod.month(2026, 11)
    assert (november.start.day, november.end.day, november.code) == (1, 30, "2026-11")
    assert PayPeriod.month(2028, 2).end.day == 29
    half = PayPeriod(november.start, november.start.replace(day=15))
    assert not half.is_calendar_month and half.code == "20261101-20261115"
    with pytest.raises(DocumentInputInvalid):
        PayPeriod(november.end, november.start)
