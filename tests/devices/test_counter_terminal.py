"""The counter flow signed by terminals: the merchant comes from the binding, replays move nothing.

The payer is identified by a stand-in for the matcher (``app.state.identify_override``), as in
the payments tests: what is under test here is who may sell, for whom, and how often.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from devices.models import DeviceKind
from palmvein.core.db import unit_of_work
from palmvein.core.money import Money
from payments import ledger, service
from payments.models import AccountKind, LedgerTransaction

from ..conftest import FakeClock
from .conftest import Registered, rejections, send_signed

SALE = "/payments/counter/purchases"


@dataclass(frozen=True)
class Decision:
    outcome: str
    subject_id: str | None


@pytest.fixture
def amina_wallet(
    device_app: FastAPI, session_factory: sessionmaker[Session], clock: FakeClock
) -> int:
    device_app.state.identify_override = lambda session, image, purpose: Decision(
        "match", "amina"
    )
    with unit_of_work(session_factory) as session:
        wallet = service.open_wallet(
            session, person_id="amina", currency="DZD", phone="+213555000001", now=clock()
        )
        issuance = ledger.system_account(session, AccountKind.ISSUANCE, "DZD", clock())
        ledger.transfer(
            session,
            debit_account_id=issuance.id,
            credit_account_id=wallet.id,
            amount=Money.of("1000", "DZD"),
            kind="funding",
            description="test funding",
            now=clock(),
        )
        return wallet.id


@pytest.fixture
def tills(register: Callable[..., Registered], shops: dict[str, int]) -> dict[str, Registered]:
    return {
        shop: register(DeviceKind.COUNTER_TERMINAL, f"till {shop}", merchant_account_id=account)
        for shop, account in shops.items()
    }


def _sell(client: Any, till: Registered, key: str, amount: str = "120", **form: str) -> Any:
    return send_signed(
        client,
        till.signer,
        "POST",
        SALE,
        data={"amount": amount, "currency": "DZD", **form},
        files={"image": ("palm.png", b"palm-of-amina", "image/png")},
        headers={"Idempotency-Key": key},
    )


def _available(factory: sessionmaker[Session], account_id: int) -> str:
    with factory() as session:
        return str(ledger.balance_of(session, account_id).available)


def _transactions(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(LedgerTransaction)) or 0)


def test_a_sale_goes_to_the_merchant_the_terminal_is_bound_to(
    device_client: Any,
    tills: dict[str, Registered],
    shops: dict[str, int],
    amina_wallet: int,
    session_factory: sessionmaker[Session],
) -> None:
    sold = _sell(device_client, tills["B"], "sale-1")
    assert sold.status_code == 201, sold.text
    assert sold.json()["payee_account_id"] == shops["B"]
    assert sold.json()["initiator"] == f"device:{tills['B'].device_id}"
    assert _available(session_factory, amina_wallet) == "880.00 DZD"


def test_a_terminal_of_merchant_a_cannot_sell_for_merchant_b(
    device_client: Any,
    tills: dict[str, Registered],
    shops: dict[str, int],
    amina_wallet: int,
    session_factory: sessionmaker[Session],
) -> None:
    response = _sell(device_client, tills["A"], "sale-1", merchant_account_id=str(shops["B"]))
    assert response.status_code == 403, response.text
    assert response.json()["type"] == "urn:palmvein:problem:wrong-device"
    assert _available(session_factory, amina_wallet) == "1,000.00 DZD"
    [audited] = rejections(session_factory)
    assert (audited["reason"], audited["entity_id"]) == ("wrong-device", str(tills["A"].device_id))


def test_naming_its_own_merchant_is_allowed(
    device_client: Any, tills: dict[str, Registered], shops: dict[str, int], amina_wallet: int
) -> None:
    response = _sell(device_client, tills["A"], "sale-1", merchant_account_id=str(shops["A"]))
    assert response.status_code == 201, response.text


def test_a_replayed_signed_sale_moves_no_money(
    device_client: Any,
    tills: dict[str, Registered],
    amina_wallet: int,
    session_factory: sessionmaker[Session],
) -> None:
    request = device_client.build_request(
        "POST",
        SALE,
        data={"amount": "120", "currency": "DZD"},
        files={"image": ("palm.png", b"palm-of-amina", "image/png")},
        headers={"Idempotency-Key": "sale-1"},
    )
    body = request.read()
    request.headers.update(tills["A"].signer.headers("POST", SALE, body))
    assert device_client.send(request).status_code == 201
    booked = _transactions(session_factory)
    # The very same bytes again, and again with a new Idempotency-Key (not part of the signature).
    replay = device_client.send(request)
    request.headers["Idempotency-Key"] = "sale-2"
    renamed = device_client.send(request)
    for response in (replay, renamed):
        assert response.status_code == 401
        assert response.json()["type"] == "urn:palmvein:problem:nonce-reused"
    assert _transactions(session_factory) == booked
    assert _available(session_factory, amina_wallet) == "880.00 DZD"


def test_other_devices_and_staff_cannot_sell(
    device_client: Any,
    register: Callable[..., Registered],
    amina_wallet: int,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
    session_factory: sessionmaker[Session],
) -> None:
    from palmvein.core.security.roles import Role

    scanner = register(DeviceKind.SCANNER, "scanner")
    response = _sell(device_client, scanner, "sale-1")
    assert response.status_code == 403
    assert rejections(session_factory)[0]["reason"] == "wrong-device"
    cashier = bearer(make_staff("samir.cashier", Role.MERCHANT_CASHIER))
    unsigned = device_client.post(
        SALE,
        data={"amount": "120", "currency": "DZD"},
        files={"image": ("palm.png", b"palm-of-amina", "image/png")},
        headers={**cashier, "Idempotency-Key": "sale-2"},
    )
    assert unsigned.status_code == 401
    assert _available(session_factory, amina_wallet) == "1,000.00 DZD"


def test_a_terminal_voids_and_refunds_only_its_merchants_sales(
    device_client: Any,
    tills: dict[str, Registered],
    amina_wallet: int,
    session_factory: sessionmaker[Session],
) -> None:
    first = _sell(device_client, tills["A"], "sale-1").json()["id"]
    second = _sell(device_client, tills["A"], "sale-2").json()["id"]

    def post(till: Registered, path: str, body: dict[str, str], key: str) -> Any:
        return send_signed(
            device_client, till.signer, "POST", path, json=body, headers={"Idempotency-Key": key}
        )

    stolen = post(tills["B"], f"{SALE}/{first}/void", {}, "v-1")
    assert stolen.status_code == 403, stolen.text
    stolen_refund = post(
        tills["B"], f"{SALE}/{first}/refunds", {"amount": "10", "currency": "DZD"}, "r-1"
    )
    assert stolen_refund.status_code == 403
    assert _available(session_factory, amina_wallet) == "760.00 DZD"

    voided = post(tills["A"], f"{SALE}/{first}/void", {}, "v-2")
    assert voided.status_code == 201, voided.text
    refunded = post(
        tills["A"], f"{SALE}/{second}/refunds", {"amount": "20", "currency": "DZD"}, "r-2"
    )
    assert refunded.status_code == 201, refunded.text
    assert _available(session_factory, amina_wallet) == "900.00 DZD"
    assert [r["reason"] for r in rejections(session_factory)] == ["wrong-device"] * 2
