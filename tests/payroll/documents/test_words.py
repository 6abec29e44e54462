"""Amounts in words: worked examples per language and currency, and agreement rules."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palmvein.core.money import Money
from payroll.documents import NoWordsForCurrency, amount_in_words


def dzd(major: int, minor: int = 0) -> Money:
    return Money(major * 100 + minor, "DZD")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (dzd(0), "zéro dinar algérien"),
        (dzd(1), "un dinar algérien"),
        (dzd(2), "deux dinars algériens"),
        (dzd(11), "onze dinars algériens"),
        (dzd(100), "cent dinars algériens"),
        (dzd(1_000_000), "un million de dinars algériens"),
        (dzd(2500, 50), "deux mille cinq cents dinars algériens et cinquante centimes"),
        (dzd(0, 1), "un centime"),
        (dzd(21, 1), "vingt et un dinars algériens et un centime"),
        (Money(100, "MAD"), "un dirham marocain"),
        (Money(1_000_050, "MAD"), "dix mille dirhams marocains et cinquante centimes"),
        (Money(100, "SYP"), "une livre syrienne"),
        (Money(2_100, "SYP"), "vingt et une livres syriennes"),
        (Money(2_000_000_01, "SYP"), "deux millions de livres syriennes et une piastre"),
    ],
)
def test_french(amount: Money, expected: str) -> None:
    assert amount_in_words(amount, "fr") == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (dzd(0), "zero Algerian dinars"),
        (dzd(1), "one Algerian dinar"),
        (dzd(2), "two Algerian dinars"),
        (dzd(11), "eleven Algerian dinars"),
        (dzd(100), "one hundred Algerian dinars"),
        (dzd(1_000_000), "one million Algerian dinars"),
        (dzd(2500, 50), "two thousand five hundred Algerian dinars and fifty centimes"),
        (dzd(0, 1), "one centime"),
        (
            Money(250_075, "MAD"),
            "two thousand five hundred Moroccan dirhams and seventy-five centimes",
        ),
        (Money(100, "SYP"), "one Syrian pound"),
        (Money(1_001, "SYP"), "ten Syrian pounds and one piastre"),
    ],
)
def test_english(amount: Money, expected: str) -> None:
    assert amount_in_words(amount, "en") == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (dzd(0), "صفر دينار جزائري"),
        (dzd(1), "دينار جزائري واحد"),
        # Dual: the noun alone, no numeral.
        (dzd(2), "ديناران جزائريان"),
        # 3-10: plural.
        (dzd(3), "ثلاثة دنانير جزائرية"),
        # 11-99: accusative singular.
        (dzd(11), "أحد عشر ديناراً جزائرياً"),
        (dzd(100), "مائة دينار جزائري"),
        (dzd(1_000_000), "مليون دينار جزائري"),
        (dzd(2500, 50), "ألفان وخمسمائة دينار جزائري وخمسون سنتيماً"),
        (dzd(0, 2), "سنتيمان"),
        (Money(1_000, "MAD"), "عشرة دراهم مغربية"),
        (Money(200, "MAD"), "درهمان مغربيان"),
        # The Syrian pound is feminine: numbers agree (ثلاث, إحدى عشرة) and one is واحدة.
        (Money(100, "SYP"), "ليرة سورية واحدة"),
        (Money(200, "SYP"), "ليرتان سوريتان"),
        (Money(300, "SYP"), "ثلاث ليرات سورية"),
        (Money(1_100, "SYP"), "إحدى عشرة ليرة سورية"),
        (Money(150_025, "SYP"), "ألف وخمسمائة ليرة سورية وخمسة وعشرون قرشاً"),
    ],
)
def test_arabic(amount: Money, expected: str) -> None:
    assert amount_in_words(amount, "ar") == expected


def test_arabic_conjunction_is_joined_to_the_next_word() -> None:
    words = amount_in_words(dzd(1_234_567, 89), "ar")
    assert " و " not in words
    assert words.startswith("مليون ومئتان وأربعة وثلاثون ألفاً")


def test_negative_and_unknown_currency_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        amount_in_words(dzd(-1), "fr")
    with pytest.raises(NoWordsForCurrency, match="EUR"):
        amount_in_words(Money(100, "EUR"), "fr")


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["DZD", "MAD", "SYP"]))
def test_every_amount_has_words_and_minor_part_only_when_nonzero(minor: int, currency: str) -> None:
    amount = Money(minor, currency)
    for language, joiner in (("fr", " et "), ("en", " and ")):
        words = amount_in_words(amount, language)  # type: ignore[arg-type]
        assert words
        unit = {"DZD": "centime", "MAD": "centime", "SYP": "piastre"}[currency]
        assert (unit in words) == (minor % 100 != 0)
        if minor % 100 and minor >= 100:
            assert joiner in words
