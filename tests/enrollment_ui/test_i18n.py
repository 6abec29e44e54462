"""Languages: every page message is translated, placeholders survive, money and dates follow the
locale, Arabic is right to left."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollment_ui.i18n import Language, pick_language, translations
from enrollment_ui.messages import extract_messages
from palmvein.core.money import Money

MESSAGES = extract_messages()
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# The same words in French (or names no language translates).
SAME_IN_FRENCH = {"Date", "Type", "Net", "Documents", "ISO 20022 pain.001 (XML)"}


def test_the_pages_have_messages_to_translate() -> None:
    assert len(MESSAGES) > 100
    assert "Sign in" in MESSAGES and "Place your palm over the scanner…" in MESSAGES


@pytest.mark.parametrize("language", ["ar", "fr"])
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    catalogue = translations(language)
    untranslated, broken = [], []
    for msgid in MESSAGES:
        text = catalogue.gettext(msgid)
        if text == msgid and msgid not in SAME_IN_FRENCH:
            untranslated.append(msgid)
        if set(_PLACEHOLDER.findall(text)) != set(_PLACEHOLDER.findall(msgid)):
            broken.append(msgid)
    assert untranslated == [] and broken == []


def test_arabic_is_right_to_left_and_the_others_left_to_right() -> None:
    assert Language("ar").direction == "rtl"
    assert Language("fr").direction == Language("en").direction == "ltr"
    assert Language("ar").gettext("Sign in") == "تسجيل الدخول"
    assert Language("fr").gettext("Today, %(day)s", day="lundi") == "Aujourd'hui, lundi"


def test_the_language_cookie_wins_then_the_browser_then_english() -> None:
    assert pick_language("ar", "fr-FR,fr;q=0.9") == "ar"
    assert pick_language(None, "de-DE, fr-FR;q=0.8") == "fr"
    assert pick_language("xx", "de") == "en"
    assert pick_language(None, None) == "en"


def test_money_and_dates_follow_the_locale() -> None:
    amount = Money(123456789, "DZD")
    assert Language("en").money(amount) == "DZD1,234,567.89"
    assert Language("fr").money(amount).replace("\u202f", " ").replace("\xa0", " ") == \
        "1 234 567,89 DZD"
    assert "1,234,567.89" in Language("ar").money(amount).replace("\u066c", ",")
    moment = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)  # 09:00 in Algiers
    assert "09:00" in Language("fr").datetime(moment)
    assert "mars" in Language("fr").datetime(moment)


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["DZD", "MAD", "SYP", "TND"]))
def test_money_keeps_every_minor_unit(minor: int, currency: str) -> None:
    text = Language("en").money(Money(minor, currency))
    digits = re.sub(r"\D", "", text)
    assert int(digits) == minor
