"""The pages' language is each staff user's own: stored on the account when chosen while signed
in, applied at sign-in, so the next person on a shared PC does not inherit it."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from enrollment_ui.i18n import LANGUAGE_COOKIE, LANGUAGES
from palmvein.core.security.roles import Role
from palmvein.core.security.users import LANGUAGE_CODES, StaffUser

PASSWORD = "correct horse battery staple"
HTMX = {"HX-Request": "true"}


def sign_in(client: TestClient, username: str) -> tuple[dict[str, str], str]:
    """Sign in through the login form; the htmx headers and the first page's HTML."""
    response = client.post("/ui/login", data={"username": username, "password": PASSWORD},
                           headers=HTMX)
    assert response.status_code == 204, response.text
    page = client.get(response.headers["hx-redirect"])
    token = re.search(r'X-CSRF-Token": "([0-9a-f]+)"', page.text)
    assert token is not None
    return {**HTMX, "X-CSRF-Token": token.group(1)}, page.text


def sign_out(client: TestClient, headers: dict[str, str]) -> None:
    assert client.post("/ui/logout", headers=headers).status_code == 204


def html_tag(page: str) -> str:
    match = re.search(r"<html[^>]*>", page)
    assert match is not None
    return match.group(0)


def stored(db: Session, username: str) -> str | None:
    db.expire_all()
    return db.scalar(select(StaffUser.language).where(StaffUser.username == username))


def test_the_pages_languages_are_the_ones_an_account_may_store() -> None:
    assert set(LANGUAGES) == set(LANGUAGE_CODES)


def test_each_user_gets_their_own_language_on_a_shared_client(
        client: TestClient, make_staff: Callable[..., int], db: Session) -> None:
    make_staff("amina", Role.HR_CLERK)
    make_staff("bilal", Role.HR_CLERK)
    make_staff("chafia", Role.HR_CLERK)
    # Bilal chose French earlier, on another PC (another client).
    with TestClient(client.app, base_url="https://testserver") as other_pc:
        headers, _ = sign_in(other_pc, "bilal")
        response = other_pc.post("/ui/language/fr", params={"next": "/ui/persons"},
                                 headers=headers)
        assert response.status_code == 204 and response.headers["hx-redirect"] == "/ui/persons"
    assert stored(db, "bilal") == "fr"

    # On the shared PC (English browser), Amina chooses Arabic while signed in.
    client.headers["Accept-Language"] = "en-GB,en;q=0.9"
    headers, page = sign_in(client, "amina")
    assert 'lang="en"' in html_tag(page)
    # The switcher posts through htmx (with the CSRF header) when signed in.
    assert 'hx-post="/ui/language/ar?next=/ui/persons"' in page
    response = client.post("/ui/language/ar", params={"next": "/ui/persons"}, headers=headers)
    assert response.status_code == 204, response.text
    assert stored(db, "amina") == "ar"
    assert html_tag(client.get("/ui/persons").text) == '<html lang="ar" dir="rtl">'
    sign_out(client, headers)
    # The sign-in page keeps the last choice made on this browser.
    assert 'lang="ar"' in html_tag(client.get("/ui/login").text)

    # Bilal signs in on the same PC: his own French, not Amina's Arabic.
    headers, page = sign_in(client, "bilal")
    assert html_tag(page) == '<html lang="fr" dir="ltr">'
    assert client.cookies.get(LANGUAGE_COOKIE) == "fr"
    sign_out(client, headers)

    # Amina again: Arabic, right to left, with no choice on this visit.
    headers, page = sign_in(client, "amina")
    assert html_tag(page) == '<html lang="ar" dir="rtl">'
    sign_out(client, headers)

    # Chafia never chose: she keeps the browser's language (the cookie left on it, else
    # Accept-Language), and nothing is stored for her.
    client.cookies.delete(LANGUAGE_COOKIE)
    headers, page = sign_in(client, "chafia")
    assert html_tag(page) == '<html lang="en" dir="ltr">'
    assert stored(db, "chafia") is None


def test_an_unknown_language_is_refused_with_the_known_codes(
        client: TestClient, make_staff: Callable[..., int], db: Session) -> None:
    make_staff("amina", Role.HR_CLERK)
    headers, _ = sign_in(client, "amina")
    assert client.post("/ui/language/fr", headers=headers).status_code == 204
    response = client.post("/ui/language/de", headers=headers)
    assert response.status_code == 422
    assert "unknown language &#39;de&#39;: choose one of ar, en, fr" in response.text
    assert stored(db, "amina") == "fr"
    # The browser-only link refuses it too (before signing in).
    response = client.get("/ui/language/xx", follow_redirects=False)
    assert response.status_code == 404 and "no language" in response.text
    # The language is chosen by the account's owner only, with the CSRF header.
    response = client.post("/ui/language/ar", headers=HTMX)
    assert response.status_code == 403
    assert stored(db, "amina") == "fr"


def test_the_api_browser_sign_in_applies_the_account_language_like_the_pages(
        client: TestClient, make_staff: Callable[..., int], db: Session) -> None:
    make_staff("bilal", Role.HR_CLERK)
    make_staff("chafia", Role.HR_CLERK)
    headers, _ = sign_in(client, "bilal")
    assert client.post("/ui/language/fr", headers=headers).status_code == 204
    sign_out(client, headers)
    # Another browser, Arabic cookie left by the last user, signs Bilal in through the API.
    with TestClient(client.app, base_url="https://testserver") as browser:
        browser.cookies.set(LANGUAGE_COOKIE, "ar")
        opened = browser.post("/auth/session", data={"username": "bilal", "password": PASSWORD})
        assert opened.status_code == 200, opened.text
        [cookie] = [c for c in opened.headers.get_list("set-cookie")
                    if c.startswith(f"{LANGUAGE_COOKIE}=")]
        assert cookie.startswith(f"{LANGUAGE_COOKIE}=fr;") and "SameSite=lax" in cookie
        # The pages then open in his language, as after the pages' own sign-in.
        assert html_tag(browser.get("/ui/persons").text) == '<html lang="fr" dir="ltr">'
    # The pages' form sets the cookie once (the same code), not twice.
    client.cookies.clear()
    response = client.post("/ui/login", data={"username": "bilal", "password": PASSWORD},
                           headers=HTMX)
    assert response.status_code == 204
    assert [c.split(";")[0] for c in response.headers.get_list("set-cookie")
            if c.startswith(f"{LANGUAGE_COOKIE}=")] == [f"{LANGUAGE_COOKIE}=fr"]
    # No stored language: the browser keeps its own choice.
    with TestClient(client.app, base_url="https://testserver") as browser:
        browser.cookies.set(LANGUAGE_COOKIE, "ar")
        opened = browser.post("/auth/session", data={"username": "chafia", "password": PASSWORD})
        assert opened.status_code == 200
        assert not any(c.startswith(f"{LANGUAGE_COOKIE}=")
                       for c in opened.headers.get_list("set-cookie"))
        assert html_tag(browser.get("/ui/persons").text) == '<html lang="ar" dir="rtl">'
    # A bearer token is for programs: no cookie of any kind, whatever the account's language.
    with TestClient(client.app, base_url="https://testserver") as program:
        token = program.post("/auth/token", data={"username": "bilal", "password": PASSWORD})
        assert token.status_code == 200 and token.headers.get_list("set-cookie") == []
        assert not program.cookies
