from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palmvein.core.errors import CurrencyMismatch, ValidationFailed
from palmvein.core.money import CURRENCY_EXPONENTS, Money, UnknownCurrency, total

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
minor_units = st.integers(min_value=-(10**15), max_value=10**15)


def test_a_dinar_salary_is_held_in_centimes() -> None:
    salary = Money.of("45000.50", "DZD")
    assert salary == Money(4_500_050, "DZD")
    assert str(salary) == "45,000.50 DZD"


@pytest.mark.parametrize("currency", ["DZD", "MAD", "SYP", "EUR", "USD"])
def test_project_currencies_have_two_minor_digits(currency: str) -> None:
    assert Money.zero(currency).exponent == 2


def test_three_digit_and_zero_digit_currencies() -> None:
    assert Money.of("1.234", "TND") == Money(1234, "TND")
    assert Money.of("500", "JPY") == Money(500, "JPY")


def test_floats_are_refused_everywhere() -> None:
    with pytest.raises(TypeError):
        Money.of(10.1, "MAD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(10.0, "MAD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(1000, "MAD").scale(0.015)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "MAD")


def test_too_many_decimals_need_an_explicit_rounding() -> None:
    with pytest.raises(ValidationFailed, match="more than 2 decimal places"):
        Money.of("10.005", "MAD")
    assert Money.of("10.005", "MAD", rounding=ROUND_DOWN) == Money(1000, "MAD")
    assert Money.of("10.005", "MAD", rounding="ROUND_HALF_EVEN") == Money(1000, "MAD")
    assert Money.of("10.015", "MAD", rounding="ROUND_HALF_EVEN") == Money(1002, "MAD")


def test_unknown_currency_and_bad_numbers_are_validation_errors() -> None:
    with pytest.raises(UnknownCurrency, match="unknown currency 'XXX'"):
        Money(1, "XXX")
    with pytest.raises(ValidationFailed):
        Money.of("twelve", "DZD")
    with pytest.raises(ValidationFailed):
        Money.of("NaN", "DZD")


def test_mixing_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatch, match="DZD with MAD"):
        Money(100, "DZD") + Money(100, "MAD")
    with pytest.raises(CurrencyMismatch):
        _ = Money(100, "DZD") < Money(100, "MAD")


def test_fee_of_one_and_a_half_percent_rounds_half_even() -> None:
    assert Money(10_050, "MAD").scale("0.015") == Money(151, "MAD")  # 150.75 -> 151
    assert Money(10_000, "MAD").scale(Decimal("0.015")) == Money(150, "MAD")


def test_total_of_nothing_is_zero() -> None:
    assert total([], "SYP") == Money.zero("SYP")
    assert total([Money(1, "SYP"), Money(2, "SYP")], "SYP") == Money(3, "SYP")


@given(minor_units, minor_units, currencies)
def test_addition_and_subtraction_are_exact_inverses(a: int, b: int, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert (x + y) - y == x
    assert x + y == y + x
    assert -x + x == Money.zero(currency)


@given(minor_units, currencies)
def test_decimal_round_trip_is_exact(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.of(money.to_decimal(), currency) == money
    assert Money.of(str(money.to_decimal()), currency) == money


@given(minor_units, st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12))
def test_allocation_never_creates_or_loses_a_centime(amount: int, weights: list[int]) -> None:
    if sum(weights) == 0:
        weights = [*weights[:-1], 1]
    parts = Money(amount, "DZD").allocate(weights)
    assert len(parts) == len(weights)
    assert sum(p.minor for p in parts) == amount
    for part, weight in zip(parts, weights, strict=True):
        if weight == 0:
            assert part.is_zero()


def test_allocation_splits_a_payroll_of_one_hundred_centimes_three_ways() -> None:
    assert Money(100, "DZD").allocate([1, 1, 1]) == [
        Money(34, "DZD"),
        Money(33, "DZD"),
        Money(33, "DZD"),
    ]
