"""In a real browser: the language switcher stores the signed-in user's choice (an htmx POST with
the CSRF header), and on a shared PC each user signs in to their own language."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from palmvein.core.db import unit_of_work
from palmvein.core.security.users import StaffUser

from .conftest import PASSWORD, LiveServer


def _sign_in(page: Any, server: LiveServer, username: str) -> None:
    page.goto(f"{server.url}/ui/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_selector("header button[hx-post='/ui/logout']")


def _sign_out(page: Any) -> None:
    page.click("header button[hx-post='/ui/logout']")
    page.wait_for_url("**/ui/login")


def _choose(page: Any, code: str) -> None:
    page.click(f".languages a[hreflang={code}]")
    page.wait_for_selector(f"html[lang={code}]")


def _stored(server: LiveServer, username: str) -> str | None:
    with unit_of_work(server.factory()) as session:
        return session.scalar(select(StaffUser.language).where(StaffUser.username == username))


def _html(page: Any) -> tuple[str, str]:
    return page.get_attribute("html", "lang"), page.get_attribute("html", "dir")


@pytest.mark.browser
def test_each_user_signs_in_to_their_own_language_on_a_shared_pc(
        live_server: LiveServer, browser: Any) -> None:
    # The officer chose French on another PC.
    other_pc = browser.new_context(locale="en-GB")
    try:
        page = other_pc.new_page()
        _sign_in(page, live_server, "officer")
        _choose(page, "fr")
        assert _stored(live_server, "officer") == "fr"
    finally:
        other_pc.close()

    shared_pc = browser.new_context(locale="en-GB")
    try:
        page = shared_pc.new_page()
        _sign_in(page, live_server, "boss")
        assert _html(page) == ("en", "ltr")
        _choose(page, "ar")
        assert _html(page) == ("ar", "rtl")
        assert _stored(live_server, "boss") == "ar"
        _sign_out(page)
        _sign_in(page, live_server, "officer")
        assert _html(page) == ("fr", "ltr")
        _sign_out(page)
        _sign_in(page, live_server, "boss")
        assert _html(page) == ("ar", "rtl")
    finally:
        shared_pc.close()
