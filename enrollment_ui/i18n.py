"""Languages of the pages: Arabic (right to left), French, English.

Message catalogues are the ``.po`` files under ``locales/``; they are compiled in memory when
first needed (Babel reads the ``.po`` and writes a ``.mo`` into a buffer), so a clean clone works
without a compile step and no generated file is kept in the repository. English is the source
language: its messages are the msgids themselves.

The language is read from the ``palmvein_lang`` cookie, else ``Accept-Language``, else English.
The cookie follows the signed-in user: choosing a language while signed in stores it on the
account (``staff_users.language``) and every browser sign-in (the pages' form or the API's
``POST /auth/session``) sets the cookie to the account's language, so it is per user, not per
shared PC (see :mod:`enrollment_ui.pages_auth`). Dates and money are formatted by Babel for
the chosen locale; Arabic uses Latin digits (``ar`` in CLDR, not ``ar_SA``), as most Maghreb
readers expect.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from palmvein.core.money import Money, currency_exponent

if TYPE_CHECKING:
    from starlette.responses import Response

# Language.datetime shadows the type inside the class body.
_Moment = datetime

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES: dict[str, str] = {"ar": "العربية", "fr": "Français", "en": "English"}
RTL_LANGUAGES = frozenset({"ar"})
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "palmvein_lang"
_LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


def remember_language(response: Response, code: str) -> None:
    """Set the language cookie on ``response`` (a year; readable, not a secret).

    The one place the cookie is written: the language switcher, and every browser sign-in (the
    pages' form and ``POST /auth/session`` alike) for an account with a stored language.
    """
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=_LANGUAGE_COOKIE_SECONDS, samesite="lax")


def N_(message: str) -> str:
    """Mark a message for extraction without translating it here (translated when shown)."""
    return message


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of ``language`` (English: none, the msgids are the text)."""
    po = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not po.is_file():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language if supported, else the first supported one the browser accepts."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        base = tag.split("-")[0]
        if base in LANGUAGES:
            return base
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Language:
    """Everything a page needs to speak one language."""

    code: str
    timezone: str = "Africa/Algiers"

    @property
    def direction(self) -> str:
        return "rtl" if self.code in RTL_LANGUAGES else "ltr"

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.code)

    @property
    def gettext(self) -> Callable[..., str]:
        catalogue = translations(self.code)

        def gettext(message: str, **values: object) -> str:
            text = catalogue.gettext(message)
            return text % values if values else text

        return gettext

    def money(self, amount: Money) -> str:
        """The amount with exactly the ISO 4217 minor digits of its currency (CLDR's own digits
        differ for some: it shows the Syrian pound without piastres, which would hide money)."""
        digits = currency_exponent(amount.currency)
        major = Decimal(amount.minor).scaleb(-digits)
        pattern = copy.copy(self.locale.currency_formats["standard"])
        pattern.frac_prec = (digits, digits)
        text: str = pattern.apply(major, self.locale, currency=amount.currency,
                                  currency_digits=False)
        return text

    def number(self, value: float, digits: int = 0) -> str:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return format_datetime(value, format="medium", tzinfo=ZoneInfo(self.timezone),
                               locale=self.locale)

    def day(self, value: date) -> str:
        return format_date(value, format="full", locale=self.locale)

    def time(self, value: _Moment) -> str:
        return format_time(value, format="short", tzinfo=ZoneInfo(self.timezone),
                           locale=self.locale)
