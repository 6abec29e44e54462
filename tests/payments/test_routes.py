"""The payments API: idempotent money-moving POSTs, problem+json refusals, statements."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from devices.routes import require_device
from devices.signing import RequestSigner
from palmvein.core.security.roles import Role
from palmvein.http.auth import DbSession, require_roles
from payments import idempotency
from payments.models import LedgerTransaction
from payments.routes import create_router

from .conftest import POLICY


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    # Until the composition root registers the router itself.
    if not any(getattr(r, "path", "").startswith("/payments") for r in app.routes):
        app.include_router(create_router(DbSession, require_roles, require_device=require_device))
    app.state.payments_policy = POLICY
    return app


class Api:
    def __init__(self, client: TestClient, admin: dict[str, str], cashier: dict[str, str]):
        self.client, self.admin, self.cashier = client, admin, cashier

    def post(
        self, path: str, body: dict[str, Any], *, key: str | None = None, as_admin: bool = False
    ) -> Any:
        headers = dict(self.admin if as_admin else self.cashier)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(path, json=body, headers=headers)

    def account(self, account_id: int) -> dict[str, Any]:
        response = self.client.get(f"/payments/accounts/{account_id}", headers=self.cashier)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def open(self, kind: str, owner: str, phone: str | None = None) -> int:
        body: dict[str, Any] = {"kind": kind, "owner_id": owner, "currency": "DZD"}
        if phone:
            body["phone"] = phone
        response = self.post("/payments/accounts", body, as_admin=True)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])


@pytest.fixture
def api(
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
) -> Api:
    admin = bearer(make_staff("nadia.admin", Role.ADMIN))
    cashier = bearer(make_staff("samir.cashier", Role.MERCHANT_CASHIER))
    return Api(client, admin, cashier)


@pytest.fixture
def accounts(api: Api) -> dict[str, int]:
    ids = {
        "agent": api.open("agent_float", "poste-1"),
        "amina": api.open("wallet", "amina", "+213555000001"),
        "shop": api.open("merchant", "epicerie"),
    }
    funded = api.post(
        f"/payments/agents/{ids['agent']}/funding",
        {"amount": "100000", "currency": "DZD"},
        key="fund-1",
        as_admin=True,
    )
    assert funded.status_code == 201, funded.text
    cash_in = api.post(
        "/payments/cash-in",
        {
            "agent_account_id": ids["agent"],
            "wallet_account_id": ids["amina"],
            "amount": "5000",
            "currency": "DZD",
        },
        key="ci-1",
    )
    assert cash_in.status_code == 201, cash_in.text
    return ids


def _purchase(accounts: dict[str, int], amount: str = "1200.50", **extra: Any) -> dict[str, Any]:
    return {
        "payer_wallet_id": accounts["amina"],
        "merchant_account_id": accounts["shop"],
        "amount": amount,
        "currency": "DZD",
        **extra,
    }


def _transactions(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(LedgerTransaction)) or 0)


def test_a_retried_purchase_is_answered_from_the_store_and_moves_money_once(
    api: Api, accounts: dict[str, int], session_factory: sessionmaker[Session]
) -> None:
    first = api.post("/payments/purchases", _purchase(accounts), key="sale-42")
    booked = _transactions(session_factory)
    again = api.post("/payments/purchases", _purchase(accounts), key="sale-42")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _transactions(session_factory) == booked
    assert api.account(accounts["amina"])["available"] == "3799.50"


def test_the_same_key_with_another_body_is_a_422_problem(
    api: Api, accounts: dict[str, int]
) -> None:
    api.post("/payments/purchases", _purchase(accounts), key="sale-42")
    response = api.post("/payments/purchases", _purchase(accounts, "99"), key="sale-42")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:palmvein:problem:idempotency-key-reused"


def test_a_duplicate_in_flight_is_a_409_problem(
    api: Api, accounts: dict[str, int], session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as first:
        if first.get_bind().dialect.name != "postgresql":
            pytest.skip("the in-flight 409 needs PostgreSQL advisory locks; SQLite has none")
        # Another worker is still processing samir's request with this key.
        lock = idempotency._advisory_lock_id("staff:samir.cashier", "sale-7")
        first.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock})
        response = api.post("/payments/purchases", _purchase(accounts), key="sale-7")
        first.rollback()
    assert response.status_code == 409
    assert response.json()["type"] == "urn:palmvein:problem:request-in-flight"
    assert api.post("/payments/purchases", _purchase(accounts), key="sale-7").status_code == 201


BAD_AMOUNTS = {
    "zero": "0",
    "negative": "-5",
    "too many decimals": "1.001",
    "exponent": "1e3",
    "overflow": "10000000000000.01",
    "JSON number": 12,
    "text": "abc",
}


def test_bad_amounts_and_currencies_are_problems_and_book_nothing(
    api: Api, accounts: dict[str, int], session_factory: sessionmaker[Session]
) -> None:
    booked = _transactions(session_factory)
    bodies = {name: _purchase(accounts, amount) for name, amount in BAD_AMOUNTS.items()}
    for currency in ("EUR", "XXX", "dzd"):
        bodies[f"currency {currency}"] = _purchase(accounts, currency=currency)
    for name, body in bodies.items():
        response = api.post("/payments/purchases", body, key=str(uuid.uuid4()))
        assert response.status_code == 422, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json", name
    missing_key = api.post("/payments/purchases", _purchase(accounts))
    assert missing_key.status_code == 422, "money-moving POSTs need an Idempotency-Key"
    poor = api.post("/payments/purchases", _purchase(accounts, "5000.01"), key="big")
    assert poor.json()["type"] == "urn:palmvein:problem:insufficient-funds"
    assert _transactions(session_factory) == booked
    assert api.account(accounts["amina"])["available"] == "5000.00"


def test_status_by_client_reference_after_a_lost_response(
    api: Api, accounts: dict[str, int]
) -> None:
    api.post("/payments/purchases", _purchase(accounts, client_reference="till-3/0007"), key="k")
    found = api.client.get(
        "/payments/operations", params={"client_reference": "till-3/0007"}, headers=api.cashier
    )
    assert found.status_code == 200
    assert (found.json()["status"], found.json()["amount"]) == ("completed", "1200.50")
    missing = api.client.get(
        "/payments/operations", params={"client_reference": "till-3/0008"}, headers=api.cashier
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_void_refund_and_statement_over_http(api: Api, accounts: dict[str, int], clock) -> None:  # type: ignore[no-untyped-def]
    sale = api.post("/payments/purchases", _purchase(accounts, "1000"), key="s1").json()
    voided = api.post("/payments/purchases", _purchase(accounts, "500"), key="s2").json()
    assert api.post(f"/payments/purchases/{voided['id']}/void", {}, key="v1").status_code == 201
    refund = api.post(
        f"/payments/purchases/{sale['id']}/refunds",
        {"amount": "1000.01", "currency": "DZD"},
        key="r1",
    )
    assert refund.status_code == 409
    assert refund.json()["type"] == "urn:palmvein:problem:operation-not-reversible"
    assert (
        api.post(
            f"/payments/purchases/{sale['id']}/refunds",
            {"amount": "100", "currency": "DZD"},
            key="r2",
        ).status_code
        == 201
    )

    day = clock().date().isoformat()
    csv_text = api.client.get(
        f"/payments/merchants/{accounts['shop']}/statements/{day}.csv", headers=api.cashier
    )
    assert csv_text.status_code == 200
    assert csv_text.headers["content-type"].startswith("text/csv")
    totals = {
        line.split(",")[2]: line.split(",")[4]
        for line in csv_text.text.splitlines()
        if line.startswith("total")
    }
    # Sales 1 500, void -500, refund -100; fees -10 -5 +5 +1 (a tenth of the 10 DZD fee back).
    assert totals == {
        "sales": "1500.00",
        "voids": "-500.00",
        "refunds": "-100.00",
        "fees": "-9.00",
        "net": "891.00",
        "settled to bank": "0.00",
    }
    pdf = api.client.get(
        f"/payments/merchants/{accounts['shop']}/statements/{day}.pdf", headers=api.cashier
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")


def test_cashiers_cannot_open_accounts_or_fund_agents(api: Api, accounts: dict[str, int]) -> None:
    body = {"kind": "wallet", "owner_id": "x", "currency": "DZD", "phone": "+213555000003"}
    assert api.post("/payments/accounts", body).status_code == 403
    funding = api.post(
        f"/payments/agents/{accounts['agent']}/funding", {"amount": "1", "currency": "DZD"}, key="f"
    )
    assert funding.status_code == 403


def test_counter_purchase_by_palm_with_pin_and_stored_declines(
    app: FastAPI, api: Api, accounts: dict[str, int]
) -> None:
    from dataclasses import dataclass

    # The shop's till: registered by an admin, then every sale is signed with its key.
    registered = api.client.post(
        "/devices",
        json={"kind": "counter_terminal", "label": "till", "merchant_account_id": accounts["shop"]},
        headers=api.admin,
    )
    assert registered.status_code == 201, registered.text
    key = registered.json()["key"]
    till = RequestSigner(key["key_id"], key["secret"], clock=lambda: app.state.clock().timestamp())

    @dataclass(frozen=True)
    class Decision:
        outcome: str
        subject_id: str | None

    palms = {b"amina-palm": Decision("match", "amina"), b"stranger": Decision("no_match", None)}
    app.state.identify_override = lambda session, image, purpose: palms[image]

    def sell(image: bytes, amount: str, key: str, pin: str | None = None) -> Any:
        form = {"amount": amount, "currency": "DZD"}
        if pin is not None:
            form["pin"] = pin
        request = api.client.build_request(
            "POST",
            "/payments/counter/purchases",
            data=form,
            files={"image": ("palm.png", image, "image/png")},
            headers={"Idempotency-Key": key},
        )
        body = request.read()
        request.headers.update(till.headers("POST", "/payments/counter/purchases", body))
        return api.client.send(request)

    approved = sell(b"amina-palm", "120", "c1")
    assert approved.status_code == 201, approved.text
    assert approved.json()["payer_account_id"] == accounts["amina"]

    stranger = sell(b"stranger", "120", "c2")
    assert stranger.status_code == 422
    assert stranger.headers["content-type"] == "application/problem+json"
    assert stranger.json()["reason"] == "no-match"

    # Above 5 000 DZD the PIN is needed; Amina has none set yet.
    assert sell(b"amina-palm", "5000.01", "c3").json()["reason"] == "pin-required"
    declined = sell(b"amina-palm", "5000.01", "c4", pin="1234")
    assert declined.json()["reason"] == "pin-not-set"
    replay = sell(b"amina-palm", "5000.01", "c4", pin="1234")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == declined.json()
    assert api.account(accounts["amina"])["available"] == "4880.00"

    pin_set = api.client.put(
        f"/payments/accounts/{accounts['amina']}/pin", json={"pin": "2468"}, headers=api.admin
    )
    assert pin_set.status_code == 204
    reasons = [
        sell(b"amina-palm", "5000.01", f"w{i}", pin="0000").json()["reason"] for i in range(3)
    ]
    assert reasons == ["pin-incorrect", "pin-incorrect", "pin-locked"]
    assert sell(b"amina-palm", "5000.01", "w4", pin="2468").json()["reason"] == "pin-locked"
