"""Account check keys, with worked examples a clerk can redo on paper."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from payroll.accounts import (
    AccountScheme,
    ccp_key,
    check_ccp,
    check_rib_dz,
    check_rib_ma,
    rib_dz_key,
    rib_ma_key,
    rip_of_ccp,
    validate_account,
)


def test_ccp_key_worked_example() -> None:
    # 0012345678, digits from the right times 4, 5, 6, ...:
    # 8*4 + 7*5 + 6*6 + 5*7 + 4*8 + 3*9 + 2*10 + 1*11 + 0*12 + 0*13 = 228 -> key 28
    assert ccp_key("12345678") == "28"
    assert check_ccp("0012345678 28").normalized == "001234567828"
    assert check_ccp("12345678-28").ok
    refused = check_ccp("0012345678 27")
    assert not refused.ok and "key 27" in (refused.error or "")


def test_rip_of_a_postal_account_worked_example() -> None:
    # branch 99999 and account 0012345678: 99999001234567800 = 97 * 1030917538500698 + 94,
    # so the key is 97 - 94 = 03 and 99999 0012345678 03 is a multiple of 97.
    assert 97 * 1030917538500698 + 94 == 99999001234567800
    assert rip_of_ccp("12345678") == "00799999001234567803"
    assert check_rib_dz("007 99999 0012345678 03").ok
    assert not check_rib_dz("007 99999 0012345678 04").ok
    assert not check_rib_dz("0079999900123456780").ok  # 19 digits


def test_moroccan_rib_worked_example() -> None:
    # 0117800000123456789012 followed by 00 leaves 1 when divided by 97: key 97 - 1 = 96.
    assert int("011780000012345678901200") % 97 == 1
    assert rib_ma_key("0117800000123456789012") == "96"
    assert check_rib_ma("011 780 0000123456789012 96").normalized == "011780000012345678901296"
    assert not check_rib_ma("011780000012345678901295").ok
    assert validate_account(AccountScheme.RIB_MA, "011780000012345678901296").ok


@given(st.from_regex(r"[0-9]{5}", fullmatch=True), st.from_regex(r"[0-9]{10}", fullmatch=True))
def test_algerian_rib_key_makes_a_multiple_of_97(branch: str, account: str) -> None:
    key = rib_dz_key(branch, account)
    assert 1 <= int(key) <= 97
    assert int(branch + account + key) % 97 == 0
    assert check_rib_dz("001" + branch + account + key).ok


@given(st.from_regex(r"[0-9]{22}", fullmatch=True), st.integers(0, 21), st.integers(1, 9))
def test_moroccan_rib_catches_any_single_digit_error(first22: str, at: int, change: int) -> None:
    rib = first22 + rib_ma_key(first22)
    assert check_rib_ma(rib).ok
    wrong = rib[:at] + str((int(rib[at]) + change) % 10) + rib[at + 1 :]
    assert not check_rib_ma(wrong).ok
