"""Fixtures for the devices tests: a key ring, a shop, registered terminals and their signers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from devices import service
from devices.models import DeviceKind
from devices.signing import RequestSigner
from matcher.crypto import Keyring
from palmvein.core.audit import AuditEntry
from palmvein.core.db import unit_of_work
from payments import ledger
from payments.models import Account, AccountKind

from ..conftest import FakeClock


@pytest.fixture
def keyring() -> Keyring:
    return Keyring({"dev-k1": bytes(range(32))}, "dev-k1", b"snapshot secret")


def open_merchant(session: Session, name: str, clock: FakeClock) -> Account:
    return ledger.open_account(
        session,
        owner_type="merchant",
        owner_id=name,
        kind=AccountKind.MERCHANT,
        currency="DZD",
        now=clock(),
    )


@dataclass
class Registered:
    """A registered device and a signer holding its key."""

    device_id: int
    key_id: str
    secret: str
    signer: RequestSigner


def make_signer(key_id: str, secret: str, clock: FakeClock) -> RequestSigner:
    return RequestSigner(key_id, secret, clock=lambda: clock().timestamp())


@pytest.fixture
def register(
    session_factory: sessionmaker[Session], keyring: Keyring, clock: FakeClock
) -> Callable[..., Registered]:
    """Register a device through the service (committed) and return it with its signer."""

    def make(kind: DeviceKind, label: str = "device", **binding: Any) -> Registered:
        with unit_of_work(session_factory) as session:
            device, issued = service.register_device(
                session, keyring, kind=kind, label=label, actor="test", now=clock(), **binding
            )
            device_id = device.id
        return Registered(
            device_id,
            issued.key_id,
            issued.secret,
            make_signer(issued.key_id, issued.secret, clock),
        )

    return make


@pytest.fixture
def shops(session_factory: sessionmaker[Session], clock: FakeClock) -> dict[str, int]:
    """Two merchant accounts: A (epicerie) and B (pharmacie)."""
    with unit_of_work(session_factory) as session:
        return {
            "A": open_merchant(session, "epicerie", clock).id,
            "B": open_merchant(session, "pharmacie", clock).id,
        }


@pytest.fixture
def device_app(app: FastAPI, keyring: Keyring) -> FastAPI:
    app.state.device_keyring = keyring
    return app


@pytest.fixture
def device_client(device_app: FastAPI) -> Any:
    with TestClient(
        device_app, base_url="https://testserver", raise_server_exceptions=False
    ) as test_client:
        yield test_client


def rejections(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    """The audited refusals of device requests, oldest first."""
    import json

    with factory() as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "devices.request_rejected")
            .order_by(AuditEntry.seq)
        ).all()
        return [{"entity_id": r.entity_id, **json.loads(r.data)} for r in rows]


def send_signed(client: Any, signer: RequestSigner, method: str, url: str, **kwargs: Any) -> Any:
    """Send a request signed over the exact bytes httpx puts on the wire (multipart included)."""
    request = client.build_request(method, url, **kwargs)
    body = request.read()
    target = request.url.raw_path.decode("ascii")
    request.headers.update(signer.headers(method, target, body))
    return client.send(request)
