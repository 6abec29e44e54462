"""Check keys of the account numbers salaries are paid to: Algerian CCP and RIP/RIB, Moroccan RIB.

Each function takes the digits as printed on the account holder's card or RIB slip (spaces and
dashes are ignored) and says whether the key matches; :func:`validate_account` returns the
normalised number or the reason it is refused.

- Algerian CCP (Algérie Poste compte courant postal): up to 10 account digits and a 2-digit key.
  The key is ``sum(d_i * w_i) mod 100`` where the account is left-padded to 10 digits and the
  weights run 4, 5, ..., 13 from the rightmost digit to the leftmost.
- Algerian RIB / RIP, 20 digits (Banque d'Algérie instruction 06-2004): bank (3), branch (5),
  account (10), key (2). ``key = 97 - (branch||account * 100 mod 97)``, with 0 written as 97;
  the bank code is not part of the key. A postal account's RIP is ``007 99999`` + CCP (10) + key.
- Moroccan RIB, 24 digits (Bank Al-Maghrib): bank (3), city (3), account (16), key (2); the whole
  24-digit number is a multiple of 97: ``key = 97 - (first 22 digits * 100 mod 97)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_SEPARATORS = re.compile(r"[\s\-./]")


class AccountScheme(StrEnum):
    CCP = "ccp"  # Algérie Poste: account + 2-digit key, written "0012345678 32"
    RIP_DZ = "rib_dz"  # Algerian RIB or RIP, 20 digits
    RIB_MA = "rib_ma"  # Moroccan RIB, 24 digits


@dataclass(frozen=True, slots=True)
class AccountCheck:
    """The outcome of validating one account number: ``normalized`` when valid, else ``error``."""

    scheme: AccountScheme
    normalized: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def _digits(text: str) -> str:
    return _SEPARATORS.sub("", text)


def ccp_key(account: str) -> str:
    """The 2-digit key of an Algerian postal account number (up to 10 digits)."""
    if not account.isdigit() or not 1 <= len(account) <= 10:
        raise ValueError(f"a CCP account number has 1 to 10 digits, not {account!r}")
    padded = account.zfill(10)
    total = sum(int(digit) * weight for digit, weight in zip(reversed(padded), range(4, 14)))
    return f"{total % 100:02d}"


def _mod97_key(number: str) -> str:
    key = 97 - (int(number) * 100) % 97
    return f"{key:02d}"


def rib_dz_key(branch: str, account: str) -> str:
    """The key of an Algerian RIB/RIP: branch (5 digits) and account (10 digits)."""
    if len(branch) != 5 or len(account) != 10 or not (branch + account).isdigit():
        raise ValueError("an Algerian RIB key needs a 5-digit branch and a 10-digit account")
    return _mod97_key(branch + account)


def rip_of_ccp(account: str) -> str:
    """The 20-digit RIP of a postal account: bank 007, branch 99999, the CCP, the RIP key."""
    padded = account.zfill(10)
    return "007" + "99999" + padded + rib_dz_key("99999", padded)


def rib_ma_key(first22: str) -> str:
    """The key of a Moroccan RIB from its first 22 digits (bank, city, account)."""
    if len(first22) != 22 or not first22.isdigit():
        raise ValueError("a Moroccan RIB key needs the 22 digits before it")
    return _mod97_key(first22)


def check_ccp(text: str) -> AccountCheck:
    """``text`` is the account and its key, e.g. ``"0012345678 32"`` or ``"001234567832"``."""
    scheme = AccountScheme.CCP
    digits = _digits(text)
    if not digits.isdigit() or not 3 <= len(digits) <= 12:
        return AccountCheck(scheme, None, "a CCP is 1 to 10 digits followed by a 2-digit key")
    account, key = digits[:-2], digits[-2:]
    expected = ccp_key(account)
    if key != expected:
        return AccountCheck(scheme, None, f"CCP key {key} does not match the account")
    return AccountCheck(scheme, account.zfill(10) + key, None)


def check_rib_dz(text: str) -> AccountCheck:
    scheme = AccountScheme.RIP_DZ
    digits = _digits(text)
    if not digits.isdigit() or len(digits) != 20:
        return AccountCheck(scheme, None, "an Algerian RIB/RIP has exactly 20 digits")
    if digits[-2:] != rib_dz_key(digits[3:8], digits[8:18]):
        return AccountCheck(scheme, None, f"RIB key {digits[-2:]} does not match the account")
    return AccountCheck(scheme, digits, None)


def check_rib_ma(text: str) -> AccountCheck:
    scheme = AccountScheme.RIB_MA
    digits = _digits(text)
    if not digits.isdigit() or len(digits) != 24:
        return AccountCheck(scheme, None, "a Moroccan RIB has exactly 24 digits")
    if digits[-2:] != rib_ma_key(digits[:22]):
        return AccountCheck(scheme, None, f"RIB key {digits[-2:]} does not match the account")
    return AccountCheck(scheme, digits, None)


_CHECKS = {
    AccountScheme.CCP: check_ccp,
    AccountScheme.RIP_DZ: check_rib_dz,
    AccountScheme.RIB_MA: check_rib_ma,
}


def validate_account(scheme: AccountScheme | str, text: str) -> AccountCheck:
    """Check ``text`` under ``scheme`` (an :class:`AccountScheme` or its value)."""
    return _CHECKS[AccountScheme(scheme)](text)
