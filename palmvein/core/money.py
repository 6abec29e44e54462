"""Money as an integer count of minor units plus an ISO 4217 currency code.

Floats never enter: a salary of 45 000,00 DZD is ``Money(4_500_000, "DZD")``. Conversion from
decimal text goes through :class:`decimal.Decimal` and refuses amounts with more fractional digits
than the currency has, unless the caller names a rounding mode.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final

from palmvein.core.errors import CurrencyMismatch, ValidationFailed

# ISO 4217 minor-unit exponents for the currencies palmvein meets. The Syrian pound has two minor
# units (piastres) in ISO 4217 even though coins are no longer used; we follow the standard.
CURRENCY_EXPONENTS: Final[dict[str, int]] = {
    "DZD": 2,  # Algerian dinar
    "MAD": 2,  # Moroccan dirham
    "SYP": 2,  # Syrian pound
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "TRY": 2,  # Turkish lira, common in north-east Syria
    "IQD": 3,  # Iraqi dinar
    "TND": 3,  # Tunisian dinar
    "LYD": 3,  # Libyan dinar
    "JPY": 0,
}


class UnknownCurrency(ValidationFailed):
    code = "unknown-currency"


def _refuse_float(value: object, where: str) -> None:
    # Typed callers cannot pass a float, but untyped ones (JSON, spreadsheets) can.
    if isinstance(value, float):
        raise TypeError(f"{where} does not accept float; pass a str or Decimal")


def currency_exponent(currency: str) -> int:
    """Number of decimal places of ``currency``'s minor unit; raises UnknownCurrency."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(
            f"unknown currency {currency!r}; known: {', '.join(sorted(CURRENCY_EXPONENTS))}"
        ) from None


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An exact amount: ``minor`` units (cents, centimes, piastres) of ``currency``."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass; True dinars is a bug, not an amount.
        if type(self.minor) is not int:
            raise TypeError(f"Money.minor must be an int, got {type(self.minor).__name__}")
        currency_exponent(self.currency)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def of(
        cls, amount: str | Decimal | int, currency: str, *, rounding: str | None = None
    ) -> Money:
        """Build from major units: ``Money.of("45000.50", "DZD") == Money(4500050, "DZD")``.

        Raises ValidationFailed if ``amount`` has more decimals than the currency allows and no
        ``rounding`` mode (a :mod:`decimal` constant such as ``ROUND_HALF_EVEN``) is given.
        """
        _refuse_float(amount, "Money.of")
        exponent = currency_exponent(currency)
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise ValidationFailed(f"{amount!r} is not a number") from None
        if not value.is_finite():
            raise ValidationFailed(f"{amount!r} is not a finite amount")
        scaled = value.scaleb(exponent)
        integral = scaled.to_integral_value(rounding=rounding or ROUND_HALF_EVEN)
        if integral != scaled and rounding is None:
            raise ValidationFailed(
                f"{amount} {currency} has more than {exponent} decimal places; "
                "pass rounding= to round it"
            )
        return cls(int(integral), currency)

    # -- views --------------------------------------------------------------------------------

    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-self.exponent)

    def __str__(self) -> str:
        return f"{self.to_decimal():,.{self.exponent}f} {self.currency}"

    def __repr__(self) -> str:
        return f"Money({self.minor}, {self.currency!r})"

    # -- arithmetic ---------------------------------------------------------------------------

    def _same_currency(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot combine {self.currency} with {other.currency}; convert explicitly first"
            )

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise TypeError("multiply Money by an int; use .scale() for rates")
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def scale(self, rate: Decimal | str, *, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Multiply by a decimal rate (1.5 % is ``scale("0.015")``), rounded to minor units."""
        _refuse_float(rate, "Money.scale")
        product = Decimal(self.minor) * Decimal(rate)
        return Money(int(product.to_integral_value(rounding=rounding)), self.currency)

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split into parts proportional to integer ``weights``; the parts sum exactly to self.

        Remainder minor units go one each to the earliest parts (largest-remainder would reorder;
        callers that need fairness across runs should rotate their weights).
        """
        if not weights or any(type(w) is not int or w < 0 for w in weights):
            raise ValueError("weights must be a non-empty sequence of non-negative ints")
        total = sum(weights)
        if total == 0:
            raise ValueError("weights must not all be zero")
        sign = -1 if self.minor < 0 else 1
        magnitude = abs(self.minor)
        parts = [magnitude * w // total for w in weights]
        remainder = magnitude - sum(parts)
        for i in range(len(parts)):
            if remainder == 0:
                break
            if weights[i] > 0:
                parts[i] += 1
                remainder -= 1
        return [Money(sign * p, self.currency) for p in parts]

    # -- comparison ---------------------------------------------------------------------------

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.minor >= other.minor

    def is_zero(self) -> bool:
        return self.minor == 0

    def is_negative(self) -> bool:
        return self.minor < 0


def total(amounts: Iterable[Money], currency: str) -> Money:
    """Sum ``amounts`` (all in ``currency``); the empty sum is zero rather than an error."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
