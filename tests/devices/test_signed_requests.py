"""Signed device requests through the HTTP API: what passes, and every way one is refused.

Each refusal is a 401 (or 403 for the wrong device) problem+json, and leaves an audit row
naming the reason even though the request's own transaction is rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from devices import service
from devices.models import Device, DeviceKind, Heartbeat
from palmvein.core.db import unit_of_work

from ..conftest import FakeClock
from .conftest import Registered, rejections

PATH = "/devices/heartbeat"
JSON = {"Content-Type": "application/json"}
BODY = json.dumps({"software_version": "pv-term 2.4.1", "scanner_status": "ok"}).encode()


def _send(
    client: Any,
    registered: Registered,
    *,
    body: bytes = BODY,
    sign_body: bytes | None = None,
    path: str = PATH,
    sign_path: str | None = None,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    **signing: Any,
) -> Any:
    signed = registered.signer.headers(
        method, sign_path or path, body if sign_body is None else sign_body, **signing
    )
    signed.update(headers or {})
    signed["Content-Type"] = "application/json"
    return client.request(method, path, content=body, headers=signed)


def _refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"urn:palmvein:problem:{code}"
    if status == 401:
        assert response.headers["www-authenticate"] == "PALMVEIN-HMAC-SHA256"


@pytest.fixture
def scanner(register: Callable[..., Registered]) -> Registered:
    return register(DeviceKind.SCANNER, "desk scanner")


def test_a_signed_heartbeat_is_accepted_and_recorded(
    device_client: Any,
    scanner: Registered,
    session_factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    response = _send(device_client, scanner)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "online"
    with session_factory() as session:
        device = session.get(Device, scanner.device_id)
        assert device is not None
        assert (device.last_seen_at, device.software_version) == (clock(), "pv-term 2.4.1")
        assert len(session.scalars(select(Heartbeat)).all()) == 1
    assert rejections(session_factory) == []


def test_a_replayed_request_is_refused_and_audited(
    device_client: Any, scanner: Registered, session_factory: sessionmaker[Session]
) -> None:
    headers = {**scanner.signer.headers("POST", PATH, BODY), **JSON}
    first = device_client.post(PATH, content=BODY, headers=headers)
    again = device_client.post(PATH, content=BODY, headers=headers)
    assert first.status_code == 200
    _refused(again, 401, "nonce-reused")
    with session_factory() as session:
        assert len(session.scalars(select(Heartbeat)).all()) == 1
    [audited] = rejections(session_factory)
    assert audited["reason"] == "replayed-nonce"
    assert audited["entity_id"] == str(scanner.device_id)
    assert audited["nonce"] == headers["X-Palmvein-Nonce"]


def test_a_nonce_is_used_up_even_when_the_handler_fails(
    device_client: Any, scanner: Registered
) -> None:
    # The body fails validation after the signature was accepted: no heartbeat, nonce spent.
    bad = b'{"software_version": ""}'
    headers = {**scanner.signer.headers("POST", PATH, bad), **JSON}
    assert device_client.post(PATH, content=bad, headers=headers).status_code == 422
    _refused(device_client.post(PATH, content=bad, headers=headers), 401, "nonce-reused")


@pytest.mark.parametrize("skew", [-300, 300])
def test_exactly_300_seconds_of_clock_skew_is_accepted(
    device_client: Any, scanner: Registered, clock: FakeClock, skew: int
) -> None:
    timestamp = int(clock().timestamp()) + skew
    assert _send(device_client, scanner, timestamp=timestamp).status_code == 200


@pytest.mark.parametrize("skew", [-301, 301])
def test_301_seconds_of_clock_skew_is_refused(
    device_client: Any,
    scanner: Registered,
    clock: FakeClock,
    session_factory: sessionmaker[Session],
    skew: int,
) -> None:
    timestamp = int(clock().timestamp()) + skew
    _refused(_send(device_client, scanner, timestamp=timestamp), 401, "request-outside-time-window")
    assert rejections(session_factory)[0]["reason"] == "clock-skew"


def test_a_microsecond_past_the_window_is_refused(
    device_client: Any, scanner: Registered, clock: FakeClock
) -> None:
    timestamp = int(clock().timestamp())
    clock.advance(seconds=300)
    assert _send(device_client, scanner, timestamp=timestamp).status_code == 200
    clock.advance(microseconds=1)
    _refused(_send(device_client, scanner, timestamp=timestamp), 401, "request-outside-time-window")


def test_a_tampered_body_is_refused(
    device_client: Any, scanner: Registered, session_factory: sessionmaker[Session]
) -> None:
    tampered = BODY.replace(b"2.4.1", b"6.6.6")
    response = _send(device_client, scanner, body=tampered, sign_body=BODY)
    _refused(response, 401, "bad-signature")
    assert rejections(session_factory)[0]["reason"] == "bad-signature"
    with session_factory() as session:
        assert session.scalars(select(Heartbeat)).all() == []


@pytest.mark.parametrize(
    ("path", "sign_path"),
    [
        ("/devices/heartbeat", "/devices/heartbeat?x=1"),
        ("/devices/heartbeat?x=1", "/devices/heartbeat"),
        ("/devices/heartbeat", "/payments/counter/purchases"),
        ("/devices/heartbeat?x=2", "/devices/heartbeat?x=1"),
    ],
)
def test_a_tampered_path_or_query_is_refused(
    device_client: Any, scanner: Registered, path: str, sign_path: str
) -> None:
    _refused(_send(device_client, scanner, path=path, sign_path=sign_path), 401, "bad-signature")


def test_a_query_that_was_signed_is_accepted(device_client: Any, scanner: Registered) -> None:
    path = "/devices/heartbeat?firmware=2.4.1&x=%20y"
    assert _send(device_client, scanner, path=path).status_code == 200


def test_a_signature_with_another_secret_is_refused(
    device_client: Any, scanner: Registered, clock: FakeClock
) -> None:
    from devices.signing import new_secret

    from .conftest import make_signer

    forged = Registered(
        scanner.device_id, scanner.key_id, "", make_signer(scanner.key_id, new_secret(), clock)
    )
    _refused(_send(device_client, forged), 401, "bad-signature")


def test_an_unknown_key_is_refused(
    device_client: Any,
    scanner: Registered,
    clock: FakeClock,
    session_factory: sessionmaker[Session],
) -> None:
    from .conftest import make_signer

    stranger = Registered(
        0, "dk_ffffffffffffffff", "", make_signer("dk_ffffffffffffffff", scanner.secret, clock)
    )
    _refused(_send(device_client, stranger), 401, "unknown-device-key")
    [audited] = rejections(session_factory)
    assert (audited["reason"], audited["entity_id"]) == ("unknown-key", "unknown")


def test_a_revoked_key_is_refused(
    device_client: Any,
    scanner: Registered,
    clock: FakeClock,
    session_factory: sessionmaker[Session],
) -> None:
    with unit_of_work(session_factory) as session:
        service.revoke(session, device_id=scanner.device_id, actor="admin", now=clock())
    _refused(_send(device_client, scanner), 401, "device-key-revoked")
    assert rejections(session_factory)[0]["reason"] == "revoked-key"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Palmvein-Signature": "A" * 64},
        {"X-Palmvein-Timestamp": "soon"},
        {"X-Palmvein-Timestamp": "99999999999"},  # the year 5138: not a date to compute with
        {"X-Palmvein-Timestamp": "-1"},
        {"X-Palmvein-Nonce": "short"},
        {"X-Palmvein-Key-Id": "admin"},
    ],
)
def test_malformed_headers_are_refused(
    device_client: Any, scanner: Registered, headers: dict[str, str]
) -> None:
    _refused(_send(device_client, scanner, headers=headers), 401, "signature-malformed")


def test_another_method_than_the_signed_one_is_refused(
    device_client: Any, scanner: Registered
) -> None:
    signed = {**scanner.signer.headers("PUT", PATH, BODY), **JSON}
    _refused(device_client.post(PATH, content=BODY, headers=signed), 401, "bad-signature")


def test_a_missing_signature_is_refused_and_audited(
    device_client: Any, session_factory: sessionmaker[Session]
) -> None:
    _refused(device_client.post(PATH, content=BODY), 401, "signature-missing")
    assert rejections(session_factory)[0]["reason"] == "missing"


def test_rejections_are_audited_with_an_intact_chain(
    device_client: Any, scanner: Registered, session_factory: sessionmaker[Session]
) -> None:
    from palmvein.core.audit import verify_chain

    for _ in range(3):
        device_client.post(PATH, content=BODY)
    with session_factory() as session:
        assert verify_chain(session).ok
    assert len(rejections(session_factory)) == 3


def test_expired_nonces_are_pruned(
    device_client: Any,
    scanner: Registered,
    clock: FakeClock,
    session_factory: sessionmaker[Session],
) -> None:
    from devices.models import UsedNonce

    assert _send(device_client, scanner).status_code == 200
    clock.advance(seconds=300 + 61)
    assert _send(device_client, scanner).status_code == 200
    with session_factory() as session:
        assert len(session.scalars(select(UsedNonce)).all()) == 1  # the old one is gone
    with unit_of_work(session_factory) as session:
        clock.advance(hours=1)
        assert service.prune_nonces(session, now=clock()) == 1


def test_admins_list_device_status(
    device_client: Any,
    scanner: Registered,
    register: Callable[..., Registered],
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
    clock: FakeClock,
) -> None:
    from palmvein.core.security.roles import Role

    idle = register(DeviceKind.SCANNER, "idle")
    assert _send(device_client, scanner).status_code == 200
    admin = bearer(make_staff("ines.admin", Role.ADMIN))
    clock.advance(minutes=4)
    listed = device_client.get("/devices", headers=admin)
    assert listed.status_code == 200
    statuses = {d["id"]: d["status"] for d in listed.json()}
    assert statuses == {scanner.device_id: "offline", idle.device_id: "never-seen"}
    assert all("secret" not in json.dumps(d) for d in listed.json())
    window = {"start": "2026-03-01T07:00:00Z", "end": "2026-03-01T09:00:00Z"}
    outages = device_client.get("/devices/outages", params=window, headers=admin)
    assert outages.status_code == 200, outages.text
    downtime = {d["device_id"]: d["downtime_seconds"] for d in outages.json()}
    # Registered at 08:00, now 08:04: the heartbeat covered 08:00-08:03; the rest is down.
    assert downtime == {scanner.device_id: 60, idle.device_id: 4 * 60}
    one = device_client.get(f"/devices/{scanner.device_id}", headers=admin)
    assert one.json()["software_version"] == "pv-term 2.4.1"
    assert one.json()["active_keys"] == [scanner.key_id]


def test_admins_register_rotate_and_revoke_through_the_api(
    device_client: Any,
    shops: dict[str, int],
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
    clock: FakeClock,
) -> None:
    from palmvein.core.security.roles import Role

    from .conftest import make_signer

    admin = bearer(make_staff("ines.admin", Role.ADMIN))
    made = device_client.post(
        "/devices",
        json={"kind": "counter_terminal", "label": "till 1", "merchant_account_id": shops["A"]},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    device_id = made.json()["device"]["id"]
    terminal = Registered(
        device_id, key["key_id"], key["secret"], make_signer(key["key_id"], key["secret"], clock)
    )
    assert _send(device_client, terminal).status_code == 200

    rotated = device_client.post(f"/devices/{device_id}/keys", headers=admin)
    assert rotated.status_code == 201
    assert rotated.json()["previous_keys_valid_until"] is not None
    clock.advance(minutes=15)
    _refused(_send(device_client, terminal), 401, "device-key-revoked")

    revoked = device_client.post(
        f"/devices/{device_id}/revoke", json={"reason": "stolen"}, headers=admin
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = device_client.post(f"/devices/{device_id}/keys", headers=admin)
    _refused(again, 409, "device-revoked")

    wrong = device_client.post(
        "/devices", json={"kind": "counter_terminal", "label": "till 2"}, headers=admin
    )
    _refused(wrong, 422, "invalid-device-binding")


def test_clock_skew_window_comes_from_the_policy(
    device_app: Any, device_client: Any, scanner: Registered, clock: FakeClock
) -> None:
    from devices.service import DevicePolicy

    device_app.state.devices_policy = DevicePolicy(window=timedelta(seconds=30))
    timestamp = int(clock().timestamp()) - 31
    _refused(_send(device_client, scanner, timestamp=timestamp), 401, "request-outside-time-window")
