"""The pages through the application (no browser): sign-in, CSRF, enrolment outcomes, re-enrol and
delete, and the counter's rules (own merchant only, one sale per form, declines with reasons).

The browser tests (test_browser.py) walk the main journeys; these check the rules around them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from enrollment_ui.config import PagesConfig
from matcher.models import DuplicateCase
from palmvein.core.db import unit_of_work
from palmvein.core.money import Money
from palmvein.core.security.roles import Role
from payments import service
from payments.models import Operation
from payments.policy import DEFAULT_POLICY

PASSWORD = "correct horse battery staple"
HTMX = {"HX-Request": "true"}


def scanner(identity: int, session: int = 0) -> str:
    return f"usb-emulated://?hand_at=80&identity={identity}&session={session}"


def sign_in(client: TestClient, username: str) -> dict[str, str]:
    """Sign in through the login form; the headers htmx would send afterwards."""
    response = client.post("/ui/login", data={"username": username, "password": PASSWORD},
                           headers=HTMX)
    assert response.status_code == 204, response.text
    page = client.get(response.headers["hx-redirect"])
    token = re.search(r'X-CSRF-Token": "([0-9a-f]+)"', page.text)
    assert token is not None
    return {**HTMX, "X-CSRF-Token": token.group(1)}


def new_person(client: TestClient, headers: dict[str, str], name: str) -> str:
    response = client.post("/ui/persons", data={"display_name": name}, headers=headers)
    assert response.status_code == 204, response.text
    return str(response.headers["hx-redirect"]).rsplit("/", 1)[1]


def capture(client: TestClient, headers: dict[str, str], person: str, uri: str,
            n: int = 3) -> list[str]:
    tokens: list[str] = []
    while len(tokens) < n:
        response = client.post(f"/ui/persons/{person}/samples",
                               data={"hand": "right", "scanner": uri}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["hx-retarget"] == "#samples-right"
        tokens += re.findall(r'name="right" value="([^"]+)"', response.text)
    return tokens


def enrol(client: TestClient, headers: dict[str, str], person: str, tokens: list[str]) -> Any:
    return client.post(f"/ui/persons/{person}/enrolment", data={"right": tokens},
                       headers=headers)


def test_login_page_shows_a_wrong_password_as_a_message(
        client: TestClient, make_staff: Callable[..., int]) -> None:
    make_staff("clerk", Role.HR_CLERK)
    assert client.get("/ui/persons", follow_redirects=False).headers["location"] == \
        "/ui/login?next=/ui/persons"
    response = client.post("/ui/login", data={"username": "clerk", "password": "nope"},
                           headers=HTMX)
    assert response.status_code == 401
    assert response.headers["hx-retarget"] == "#messages"
    assert "Please sign in" in response.text and "wrong username or password" in response.text
    # A redirect target off this site is ignored (no open redirect).
    response = client.post("/ui/login", data={"username": "clerk", "password": PASSWORD,
                                              "next": "https://evil.example/"}, headers=HTMX)
    assert response.headers["hx-redirect"] == "/ui/persons"


def test_a_form_without_the_csrf_header_changes_nothing(
        client: TestClient, make_staff: Callable[..., int], db: Session) -> None:
    make_staff("clerk", Role.HR_CLERK)
    headers = sign_in(client, "clerk")
    response = client.post("/ui/persons", data={"display_name": "Forged"}, headers=HTMX)
    assert response.status_code == 403 and "X-CSRF-Token" in response.text
    response = client.post("/ui/persons", data={"display_name": "Real"},
                           headers={**headers, "X-CSRF-Token": "0" * 64})
    assert response.status_code == 403
    assert "Forged" not in client.get("/ui/persons").text
    new_person(client, headers, "Real")
    assert "Real" in client.get("/ui/persons", params={"q": "rea"}).text


def test_sign_out_ends_the_session(client: TestClient, make_staff: Callable[..., int]) -> None:
    make_staff("clerk", Role.HR_CLERK)
    headers = sign_in(client, "clerk")
    response = client.post("/ui/logout", headers=headers)
    assert response.headers["hx-redirect"] == "/ui/login"
    assert client.get("/ui/persons", follow_redirects=False).status_code == 303


def test_a_palm_enrolled_twice_shows_the_other_record_and_opens_a_case(
        client: TestClient, make_staff: Callable[..., int], db: Session) -> None:
    make_staff("clerk", Role.HR_CLERK)
    headers = sign_in(client, "clerk")
    first = new_person(client, headers, "Karima First")
    assert enrol(client, headers, first, capture(client, headers, first, scanner(21))
                 ).status_code == 200
    twin = new_person(client, headers, "Karima Again")
    response = enrol(client, headers, twin, capture(client, headers, twin, scanner(21, 1)))
    assert response.status_code == 409
    assert "Possible duplicate" in response.text and "Karima First" in response.text
    assert f"/ui/persons/{first}" in response.text
    # The case was committed with the request; nothing was enrolled.
    assert db.scalar(select(func.count()).select_from(DuplicateCase)) == 1
    assert "not enrolled" in client.get(f"/ui/persons/{twin}").text


def test_samples_are_bound_to_the_person_they_were_captured_for(
        client: TestClient, make_staff: Callable[..., int]) -> None:
    make_staff("clerk", Role.HR_CLERK)
    headers = sign_in(client, "clerk")
    one, other = new_person(client, headers, "One"), new_person(client, headers, "Other")
    tokens = capture(client, headers, one, scanner(22))
    response = enrol(client, headers, other, tokens)
    assert response.status_code == 422 and "not captured on this page" in response.text
    too_few = enrol(client, headers, one, tokens[:1])
    assert too_few.status_code == 422 and "3-5 needed" in too_few.text


def test_an_uploaded_image_is_assessed_like_a_capture(
        client: TestClient, make_staff: Callable[..., int]) -> None:
    import cv2

    from capture.uri import scanner_from_uri

    make_staff("clerk", Role.HR_CLERK)
    headers = sign_in(client, "clerk")
    person = new_person(client, headers, "Uploaded")
    with scanner_from_uri("sim://?identity=23") as sim:
        _, png = cv2.imencode(".png", sim.capture().image)
    response = client.post(f"/ui/persons/{person}/samples", data={"hand": "left"},
                           files={"image": ("palm.png", bytes(png), "image/png")},
                           headers=headers)
    assert response.status_code == 200 and 'name="left"' in response.text
    assert "data:image/png;base64," in response.text and "<meter" in response.text
    response = client.post(f"/ui/persons/{person}/samples", data={"hand": "left"},
                           files={"image": ("x.png", b"junk", "image/png")}, headers=headers)
    assert response.status_code == 422 and "not an image" in response.text


def test_re_enrol_and_delete(client: TestClient, make_staff: Callable[..., int]) -> None:
    make_staff("clerk", Role.HR_CLERK)
    make_staff("boss", Role.ADMIN)
    clerk = sign_in(client, "clerk")
    person = new_person(client, clerk, "Leaving Soon")
    assert enrol(client, clerk, person, capture(client, clerk, person, scanner(24))
                 ).status_code == 200
    page = client.get(f"/ui/persons/{person}").text
    assert "Re-enrol" in page and "Delete this person" not in page  # deletion is for admins
    assert client.post(f"/ui/persons/{person}/deletion", headers=clerk).status_code == 403
    assert client.post(f"/ui/persons/{person}/withdrawal", headers=clerk).status_code == 204
    assert "Capture samples" in client.get(f"/ui/persons/{person}").text
    client.cookies.clear()
    boss = sign_in(client, "boss")
    assert "Delete this person" in client.get(f"/ui/persons/{person}").text
    response = client.post(f"/ui/persons/{person}/deletion", headers=boss)
    assert response.headers["hx-redirect"] == "/ui/persons"
    assert client.get(f"/ui/persons/{person}").status_code == 404


@pytest.fixture
def shop(app: FastAPI, session_factory: sessionmaker[Session], clock: Any) -> int:
    with unit_of_work(session_factory) as session:
        account = service.open_merchant_account(session, merchant_id="hanout", currency="DZD",
                                                now=clock())
        other = service.open_merchant_account(session, merchant_id="other", currency="DZD",
                                              now=clock())
        account_id, other_id = account.id, other.id
    app.state.pages_config = PagesConfig(cashier_merchants={"cashier": account_id,
                                                            "rival": other_id})
    return account_id


def fund(factory: sessionmaker[Session], person: str, clock: Any) -> None:
    with unit_of_work(factory) as session:
        agent = service.open_agent_account(session, agent_id=f"a-{person[:6]}", currency="DZD",
                                           now=clock())
        wallet = service.open_wallet(session, person_id=person, currency="DZD",
                                     phone="+213555000001", now=clock())
        service.fund_agent(session, DEFAULT_POLICY, agent_account_id=agent.id,
                           amount=Money.of("1000", "DZD"), initiator="t", now=clock())
        service.cash_in(session, DEFAULT_POLICY, agent_account_id=agent.id,
                        wallet_account_id=wallet.id, amount=Money.of("1000", "DZD"),
                        initiator="t", now=clock())


def test_the_counter_sells_once_per_form_for_the_cashiers_own_merchant(
        client: TestClient, make_staff: Callable[..., int], shop: int, db: Session,
        session_factory: sessionmaker[Session], clock: Any) -> None:
    make_staff("clerk", Role.HR_CLERK)
    make_staff("cashier", Role.MERCHANT_CASHIER)
    make_staff("rival", Role.MERCHANT_CASHIER)
    make_staff("lost", Role.MERCHANT_CASHIER)
    clerk = sign_in(client, "clerk")
    payer = new_person(client, clerk, "Payer")
    assert enrol(client, clerk, payer, capture(client, clerk, payer, scanner(25))
                 ).status_code == 200
    fund(session_factory, payer, clock)
    client.cookies.clear()
    cashier = sign_in(client, "cashier")
    assert "hanout" in client.get("/ui/counter").text
    key = str(uuid.uuid4())
    sale = {"idempotency_key": key, "amount": "120,50", "scanner": scanner(25, 1)}
    first = client.post("/ui/counter/purchases", data=sale, headers=cashier)
    assert first.status_code == 200 and "Paid" in first.text, first.text
    again = client.post("/ui/counter/purchases", data=sale, headers=cashier)  # double click
    assert again.status_code == 200
    sales = db.scalars(select(Operation).where(Operation.type == "purchase")).all()
    assert len(sales) == 1 and sales[0].amount == 12050 and sales[0].payee_account_id == shop
    sale_id = sales[0].id
    assert str(sale_id) in again.text
    for _attempt in range(3):  # a poor capture is explained and the palm placed again
        declined = client.post("/ui/counter/purchases", headers=cashier, data={
            "idempotency_key": str(uuid.uuid4()), "amount": "5", "scanner": scanner(26)})
        assert declined.status_code == 422
        if "Declined" in declined.text:
            break
        assert "place it again" in declined.text
    assert "Declined: the palm matches no enrolled payer" in declined.text
    assert db.scalar(select(func.count()).select_from(Operation)
                     .where(Operation.type == "purchase")) == 1
    refund = client.post(f"/ui/counter/receipts/{sale_id}/refunds", headers=cashier,
                         data={"idempotency_key": str(uuid.uuid4()), "amount": "20"})
    assert refund.status_code == 200 and "refund" in refund.text
    # Another merchant's cashier cannot see or undo this sale; an unassigned one has no counter.
    client.cookies.clear()
    rival = sign_in(client, "rival")
    assert client.get(f"/ui/counter/receipts/{sale_id}").status_code == 403
    response = client.post(f"/ui/counter/receipts/{sale_id}/void", headers=rival,
                           data={"idempotency_key": str(uuid.uuid4())})
    assert response.status_code == 403
    client.cookies.clear()
    sign_in_response = client.post("/ui/login", data={"username": "lost", "password": PASSWORD},
                                   headers=HTMX)
    assert sign_in_response.status_code == 204
    page = client.get("/ui/counter")
    assert page.status_code == 404 and "not assigned to a merchant" in page.text
