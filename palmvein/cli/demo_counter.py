"""The demo's counter sale: a registered terminal signs a palm purchase to the real HTTP API.

The request goes through the whole application in-process (ASGI, no network and no HTTP client
library): the body-digest middleware, the device signature check, the matcher identifying the
payer from a fresh simulated capture of a person the enrolment step enrolled, and the counter
purchase. The same signed bytes are then sent again, as an attacker replaying a captured request
would, and refused.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from typing import Any

import cv2
import structlog.testing
from sqlalchemy import Engine, select

from devices import service as devices
from devices.models import DeviceKind
from devices.signing import RequestSigner
from matcher.crypto import Keyring
from matcher.models import Person
from palmvein.cli.common import transaction
from palmvein.core.db import utcnow
from palmvein.core.money import Money
from palmvein.core.settings import Settings
from payments import service as payments
from payments.demo import CounterSetting

SALE_PATH = "/payments/counter/purchases"


@dataclass(frozen=True)
class AsgiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def asgi_request(
    app: Any, method: str, path: str, headers: dict[str, str], body: bytes
) -> AsgiResponse:
    """One HTTP request through an ASGI application, in this process."""

    async def call() -> AsgiResponse:
        sent = False
        status = 0
        out_headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                out_headers.update(
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]
                )
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "https",
            "path": path,
            "raw_path": path.encode("ascii"),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            ],
            "client": ("127.0.0.1", 0),
            "server": ("demo.local", 443),
        }
        await app(scope, receive, send)
        return AsgiResponse(status, out_headers, b"".join(chunks))

    return asyncio.run(call())


def multipart(
    fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]
) -> tuple[str, bytes]:
    """A multipart/form-data body and its content type."""
    boundary = secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, data, media_type) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {media_type}\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def _payer(engine: Engine) -> tuple[Person, bytes] | None:
    """The most recently enrolled demo person and a fresh capture of their right palm (PNG)."""
    from capture.simulated import SimulatedSensor

    with transaction(engine) as session:
        person = session.scalars(
            select(Person)
            .where(Person.external_ref.like("demo-%-%"), Person.enrolled_at.is_not(None))
            .order_by(Person.enrolled_at.desc())
            .limit(1)
        ).first()
        if person is None or person.external_ref is None:
            return None
        _, seed, identity = person.external_ref.rsplit("-", 2)
        session.expunge(person)
    # Session 2: a capture the enrolment (session 0) and the duplicate check (1) never saw.
    image = SimulatedSensor(seed=int(seed), cache_size=1).capture(int(identity), 2, 0).image
    ok, png = cv2.imencode(".png", image)
    return (person, png.tobytes()) if ok else None


def signed_counter_sale(
    settings: Settings, engine: Engine, setting: CounterSetting
) -> tuple[bool, list[tuple[str, str]]]:
    """Register a till for the shop, sell by palm with a signed request, replay it; (ok, facts)."""
    from palmvein.app import create_app

    found = _payer(engine)
    if found is None:
        return False, [("counter terminal", "no enrolled demo person to pay with")]
    person, palm_png = found
    keyring = Keyring.from_environment(
        settings.secret_key.get_secret_value(), production=settings.is_production
    )
    now = utcnow()
    with transaction(engine) as session:
        wallet = payments.open_wallet(
            session, person_id=person.id, currency=setting.currency, phone="+213555000009", now=now
        )
        payments.cash_in(
            session,
            setting.policy,
            agent_account_id=setting.agent_account_id,
            wallet_account_id=wallet.id,
            amount=Money.of("5000", setting.currency),
            initiator="demo",
            now=now,
        )
        device, key = devices.register_device(
            session,
            keyring,
            kind=DeviceKind.COUNTER_TERMINAL,
            label="Demo till",
            merchant_account_id=setting.shop_account_id,
            actor="demo",
            now=now,
        )
        device_id, wallet_id = device.id, wallet.id

    app = create_app(settings, engine=engine)
    app.state.payments_policy = setting.policy
    till = RequestSigner(key.key_id, key.secret)
    content_type, body = multipart(
        {"amount": "750", "currency": setting.currency},
        {"image": ("palm.png", palm_png, "image/png")},
    )
    headers = {
        "Content-Type": content_type,
        "Idempotency-Key": f"demo-till-{secrets.token_hex(6)}",
        **till.headers("POST", SALE_PATH, body),
    }
    # The API logs each request to stdout; the demo reports them as facts instead (and --json
    # output must stay parseable).
    with structlog.testing.capture_logs():
        sale = asgi_request(app, "POST", SALE_PATH, headers, body)
        booked = _ledger_transactions(engine)
        replay = asgi_request(app, "POST", SALE_PATH, headers, body)
    moved = _ledger_transactions(engine) - booked
    audited = _rejection_audited(engine, headers["X-Palmvein-Nonce"])
    facts = [("counter terminal", f"device {device_id}, key {key.key_id}, bound to the shop")]
    sold = sale.status == 201 and sale.json().get("payer_account_id") == wallet_id
    if sold:
        facts.append(
            (
                "signed palm sale",
                (
                    f"201: 750.00 {setting.currency} from {person.display_name}'s wallet, payer "
                    "found by palm from a fresh capture; merchant from the terminal's binding"
                ),
            )
        )
    else:
        reason = sale.json().get("reason") or sale.json().get("detail")
        facts.append(("signed palm sale", f"NOT made: {sale.status} {reason}"))
    replay_type = replay.json().get("type", "") if replay.body else ""
    refused = replay.status == 401 and replay_type.endswith("nonce-reused")
    facts.append(
        (
            "replayed request",
            (
                f"{replay.status} {replay_type.rsplit(':', 1)[-1]}; "
                f"{'audited' if audited else 'NOT audited'}; "
                f"ledger transactions added by it: {moved}"
            )
            if refused
            else f"NOT refused: {replay.status}",
        )
    )
    return sold and refused and audited and moved == 0, facts


def _ledger_transactions(engine: Engine) -> int:
    from sqlalchemy import func

    from payments.models import LedgerTransaction

    with transaction(engine) as session:
        return int(session.scalar(select(func.count()).select_from(LedgerTransaction)) or 0)


def _rejection_audited(engine: Engine, nonce: str) -> bool:
    from palmvein.core.audit import AuditEntry

    with transaction(engine) as session:
        rows = session.scalars(
            select(AuditEntry.data)
            .where(AuditEntry.action == "devices.request_rejected")
            .order_by(AuditEntry.seq.desc())
            .limit(5)
        ).all()
    return any(json.loads(row).get("nonce") == nonce for row in rows)
