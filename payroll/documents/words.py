"""Amounts in words in Arabic, French and English, with the currency's units named and agreed.

num2words spells the numbers; the counted noun (dinar, dirham, livre, centime, piastre) and its
agreement are ours, because num2words does not know these currencies in these languages and
Arabic agreement depends on the number: 1 and 2 take the singular and the dual with no numeral,
3-10 the plural, 11-99 the accusative singular, and round hundreds, thousands and millions the
genitive singular.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from num2words import num2words
from num2words.lang_AR import Num2Word_AR

from palmvein.core.money import Money

from .types import Language


@dataclass(frozen=True, slots=True)
class ArabicNoun:
    """The forms an Arabic counted noun takes, each with its agreeing adjective if any."""

    singular: str  # 1, 100, 1000, 0 (genitive after round numbers)
    dual: str  # exactly 2
    plural: str  # 3-10
    accusative: str  # 11-99 (tamyiz)
    one: str  # "one X": noun then the adjective واحد / واحدة
    feminine: bool


@dataclass(frozen=True, slots=True)
class LatinNoun:
    singular: str
    plural: str
    feminine: bool = False  # French "une livre", "vingt et une piastres"


@dataclass(frozen=True, slots=True)
class CurrencyNames:
    major_ar: ArabicNoun
    minor_ar: ArabicNoun
    major_fr: LatinNoun
    minor_fr: LatinNoun
    major_en: LatinNoun
    minor_en: LatinNoun


_CENTIME_AR = ArabicNoun("سنتيم", "سنتيمان", "سنتيمات", "سنتيماً", "سنتيم واحد", False)
_CENTIME_FR = LatinNoun("centime", "centimes")
_CENTIME_EN = LatinNoun("centime", "centimes")

CURRENCY_NAMES: Final[dict[str, CurrencyNames]] = {
    "DZD": CurrencyNames(
        major_ar=ArabicNoun(
            "دينار جزائري",
            "ديناران جزائريان",
            "دنانير جزائرية",
            "ديناراً جزائرياً",
            "دينار جزائري واحد",
            False,
        ),
        minor_ar=_CENTIME_AR,
        major_fr=LatinNoun("dinar algérien", "dinars algériens"),
        minor_fr=_CENTIME_FR,
        major_en=LatinNoun("Algerian dinar", "Algerian dinars"),
        minor_en=_CENTIME_EN,
    ),
    "MAD": CurrencyNames(
        major_ar=ArabicNoun(
            "درهم مغربي",
            "درهمان مغربيان",
            "دراهم مغربية",
            "درهماً مغربياً",
            "درهم مغربي واحد",
            False,
        ),
        minor_ar=_CENTIME_AR,
        major_fr=LatinNoun("dirham marocain", "dirhams marocains"),
        minor_fr=_CENTIME_FR,
        major_en=LatinNoun("Moroccan dirham", "Moroccan dirhams"),
        minor_en=_CENTIME_EN,
    ),
    "SYP": CurrencyNames(
        major_ar=ArabicNoun(
            "ليرة سورية",
            "ليرتان سوريتان",
            "ليرات سورية",
            "ليرة سورية",
            "ليرة سورية واحدة",
            True,
        ),
        minor_ar=ArabicNoun("قرش", "قرشان", "قروش", "قرشاً", "قرش واحد", False),
        major_fr=LatinNoun("livre syrienne", "livres syriennes", feminine=True),
        minor_fr=LatinNoun("piastre", "piastres", feminine=True),
        major_en=LatinNoun("Syrian pound", "Syrian pounds"),
        minor_en=LatinNoun("piastre", "piastres"),
    ),
}


class NoWordsForCurrency(ValueError):
    """The currency has no unit names here (add them to CURRENCY_NAMES)."""


def amount_in_words(amount: Money, language: Language) -> str:
    """Spell ``amount`` out in ``language`` with its major and minor units.

    ``Money(250050, "DZD")`` in French is "deux mille cinq cents dinars algériens et cinquante
    centimes". The minor part is left out when it is zero; an amount under one major unit is
    spelled as minor units alone. Negative amounts raise ValueError (no payslip pays one).
    """
    if amount.minor < 0:
        raise ValueError(f"cannot spell a negative amount ({amount})")
    try:
        names = CURRENCY_NAMES[amount.currency]
    except KeyError:
        raise NoWordsForCurrency(
            f"no unit names for {amount.currency}; known: {', '.join(sorted(CURRENCY_NAMES))}"
        ) from None
    factor = 10**amount.exponent
    major, minor = divmod(amount.minor, factor)
    if language == "ar":
        texts = [_arabic(major, names.major_ar), _arabic(minor, names.minor_ar)]
        joiner = " و"
    elif language == "fr":
        texts = [_french(major, names.major_fr), _french(minor, names.minor_fr)]
        joiner = " et "
    elif language == "en":
        texts = [_english(major, names.major_en), _english(minor, names.minor_en)]
        joiner = " and "
    else:
        raise ValueError(f"unknown language {language!r}")
    if minor == 0:
        return texts[0]
    if major == 0:
        return texts[1]
    return joiner.join(texts)


def _arabic_cardinal(n: int, feminine: bool) -> str:
    converter = Num2Word_AR()
    converter.isCurrencyNameFeminine = feminine
    converter.currency_unit = ("", "", "", "")
    converter.currency_subunit = ("", "", "", "")
    converter.separator = ","
    text: str = converter.convert(n).strip()
    # The conjunction wa is written joined to the word after it.
    return " ".join(text.split()).replace("و ", "و")


def _arabic(n: int, noun: ArabicNoun) -> str:
    if n == 0:
        return f"صفر {noun.singular}"
    if n == 1:
        return noun.one
    if n == 2:
        return noun.dual
    last_two = n % 100
    if 3 <= last_two <= 10:
        form = noun.plural
    elif 11 <= last_two <= 99:
        form = noun.accusative
    else:  # round hundreds, thousands, ...; and 101, 102 read as "hundred and one dinar"
        form = noun.singular
    return f"{_arabic_cardinal(n, noun.feminine)} {form}"


def _french(n: int, noun: LatinNoun) -> str:
    words: str = num2words(n, lang="fr")
    if noun.feminine and (words == "un" or words.endswith((" un", "-un"))):
        words += "e"
    if n <= 1:
        return f"{words} {noun.singular}"
    # "un million de dinars", "deux milliards de livres": de before the noun after these.
    if words.endswith(("million", "millions", "milliard", "milliards")):
        return f"{words} de {noun.plural}"
    return f"{words} {noun.plural}"


def _english(n: int, noun: LatinNoun) -> str:
    words: str = num2words(n, lang="en").replace(",", "")
    return f"{words} {noun.singular if n == 1 else noun.plural}"
