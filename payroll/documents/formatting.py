"""Figures as people in each language write them (digits stay Western, as in Maghreb usage)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel import localedata
from babel.dates import format_date

from palmvein.core.money import Money

from .types import Language, PayPeriod

# Thousands and decimal separators. French groups with a no-break space so a figure never wraps.
_SEPARATORS: dict[Language, tuple[str, str]] = {
    "fr": ("\u00a0", ","),
    "en": (",", "."),
    "ar": (",", "."),
}

# The country whose month names and usage go with a currency (ar_MA says نونبر, ar_SY تشرين الثاني).
_COUNTRY_OF_CURRENCY = {"DZD": "DZ", "MAD": "MA", "SYP": "SY"}
_KNOWN_LOCALES = frozenset(localedata.locale_identifiers())


def locale_for(language: Language, currency: str) -> str:
    """``ar_MA`` for Arabic and dirhams; the bare language where babel has no such locale."""
    country = _COUNTRY_OF_CURRENCY.get(currency)
    candidate = f"{language}_{country}" if country else language
    return candidate if candidate in _KNOWN_LOCALES else language


def format_decimal_text(value: Decimal, places: int, language: Language) -> str:
    """``Decimal("2500.5")`` with 2 places is ``2 500,50`` in French, ``2,500.50`` in English."""
    group, point = _SEPARATORS[language]
    quantized = value.quantize(Decimal(1).scaleb(-places)) if places else value.quantize(Decimal(1))
    sign = "-" if quantized < 0 else ""
    text = f"{abs(quantized):,.{places}f}"
    return sign + text.replace(",", "\x00").replace(".", point).replace("\x00", group)


def format_amount(amount: Money, language: Language) -> str:
    """Figures of ``amount`` without the currency code."""
    return format_decimal_text(amount.to_decimal(), amount.exponent, language)


def format_rate(rate: Decimal, language: Language) -> str:
    """A fraction as a percentage: ``Decimal("0.09")`` is ``9 %`` (fr) or ``9%`` (en, ar)."""
    percent = (rate * 100).normalize()
    places = max(0, -int(percent.as_tuple().exponent))
    figures = format_decimal_text(percent, places, language)
    return f"{figures}\u00a0%" if language == "fr" else f"{figures}%"


def format_period(period: PayPeriod, language: Language, currency: str) -> str:
    """``novembre 2026`` for a calendar month, else the two dates."""
    locale = locale_for(language, currency)
    if period.is_calendar_month:
        return str(format_date(period.start, "LLLL y", locale=locale))
    return f"{_day(period.start, locale)} – {_day(period.end, locale)}"


def _day(day: date, locale: str) -> str:
    return str(format_date(day, "d MMMM y", locale=locale))
