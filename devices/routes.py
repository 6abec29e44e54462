"""HTTP side of devices: the admin API, the heartbeat, and the signed-request guard.

Built by the composition root like the other domain routers::

    app.add_middleware(SignedBodyDigest)
    app.include_router(create_router(DbSession, require_roles))
    payments_router = payments.routes.create_router(DbSession, require_roles,
                                                    require_device=require_device)

:func:`require_device` is the dependency factory other routers receive: ``require_device(
"counter_terminal")`` in a route signature admits only a correctly signed, fresh, unreplayed
request from a live device of that kind, and yields the :class:`~devices.service.SignedDevice`.
Refusals are 401 (signature) or 403 (wrong device) problems, each audited in a transaction of
its own so the audit row survives the request's rollback. :class:`SignedBodyDigest` must wrap
the app: form and file bodies are consumed by FastAPI before dependencies run, so the body's
digest is taken on the way in.
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency types built inside
# create_router when the endpoints are defined.

import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from devices import service
from devices.credentials import reseal
from devices.errors import SignatureRejected, WrongDevice
from devices.models import DeviceKind
from devices.schemas import (
    DeviceIn,
    DeviceOut,
    DeviceOutagesOut,
    HeartbeatIn,
    HeartbeatOut,
    KeyOut,
    PayPointIn,
    PayPointOut,
    RegisteredOut,
    RevokeIn,
)
from devices.service import DEFAULT_POLICY, DevicePolicy, SignedDevice, SignedRequest
from devices.signing import SIGNATURE_HEADER, SignedHeaders
from matcher.crypto import Keyring
from palmvein.core.db import unit_of_work
from palmvein.core.errors import FieldProblem, ValidationFailed
from palmvein.core.security.roles import Role

BODY_DIGEST_SCOPE_KEY = "palmvein.body_sha256"
_SIGNATURE_HEADER_BYTES = SIGNATURE_HEADER.lower().encode("latin-1")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SignedBodyDigest:
    """ASGI middleware: for requests carrying a device signature, read the whole body, put its
    SHA-256 in the scope and hand the same bytes on to the application."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(
            name == _SIGNATURE_HEADER_BYTES for name, _ in scope.get("headers", ())
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away; let the application see that as usual.
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        scope[BODY_DIGEST_SCOPE_KEY] = hashlib.sha256(body).hexdigest()
        whole = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([whole], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def device_keyring(request: Request) -> Keyring:
    """The key ring that seals device secrets (``app.state.device_keyring`` overrides)."""
    state = request.app.state
    keyring: Keyring | None = getattr(state, "device_keyring", None)
    if keyring is None:
        settings = state.settings
        keyring = Keyring.from_environment(
            settings.secret_key.get_secret_value(), production=settings.is_production
        )
        state.device_keyring = keyring
    return keyring


def _policy(request: Request) -> DevicePolicy:
    policy: DevicePolicy = getattr(request.app.state, "devices_policy", DEFAULT_POLICY)
    return policy


def _target(request: Request) -> str:
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


async def _body_digest(request: Request) -> str:
    digest: str | None = request.scope.get(BODY_DIGEST_SCOPE_KEY)
    if digest is not None:
        return digest
    try:
        # Without the middleware a JSON or empty body is still readable here; a form is not.
        return hashlib.sha256(await request.body()).hexdigest()
    except RuntimeError:
        raise RuntimeError(
            "signed device routes need devices.routes.SignedBodyDigest around the app"
        ) from None


# Documents the scheme in OpenAPI; DeviceGuard reads and checks the headers itself.
_OPENAPI_SIGNATURE = APIKeyHeader(
    name="X-Palmvein-Key-Id",
    scheme_name="PalmveinDeviceSignature",
    description="Device HMAC signature; see devices/README.md for the four headers.",
    auto_error=False,
)


class DeviceGuard:
    """The dependency behind :func:`require_device`; ``device_kinds`` is read by route_access."""

    def __init__(self, kinds: frozenset[DeviceKind]) -> None:
        if not kinds:
            raise ValueError("a device-signed route must allow at least one device kind")
        self.device_kinds = kinds

    async def __call__(
        self,
        request: Request,
        _documented: Annotated[str | None, Depends(_OPENAPI_SIGNATURE)] = None,
    ) -> SignedDevice:
        headers = SignedHeaders.from_headers(request.headers)
        digest = await _body_digest(request) if headers is not None else ""
        signed = SignedRequest(
            method=request.method,
            target=_target(request),
            body_sha256=digest,
            headers=headers,
            client=request.client.host if request.client else "",
        )
        device = await run_in_threadpool(self._verify, request, signed)
        request.state.device = device
        return device

    def _verify(self, request: Request, signed: SignedRequest) -> SignedDevice:
        factory: sessionmaker[Session] = request.app.state.session_factory
        now = request.app.state.clock()
        try:
            # Its own unit of work: the claimed nonce stays used whatever the handler does.
            with unit_of_work(factory) as session:
                device = service.authenticate(
                    session,
                    device_keyring(request),
                    signed,
                    now=now,
                    kinds=self.device_kinds,
                    policy=_policy(request),
                )
        except (SignatureRejected, WrongDevice) as error:
            with unit_of_work(factory) as session:
                service.record_rejection(session, error, signed, now=now)
            raise

        def refuse(error: WrongDevice) -> None:
            with unit_of_work(factory) as session:
                service.record_rejection(
                    session,
                    error,
                    signed,
                    now=request.app.state.clock(),
                    device_id=device.device_id,
                )

        return SignedDevice(
            device_id=device.device_id,
            kind=device.kind,
            key_id=device.key_id,
            merchant_account_id=device.merchant_account_id,
            pay_point_id=device.pay_point_id,
            refuse_hook=refuse,
        )

    def __repr__(self) -> str:
        return f"DeviceGuard({sorted(k.value for k in self.device_kinds)})"


def require_device(*kinds: str | DeviceKind) -> Any:
    """Declare a route device-signed, for devices of ``kinds``; yields the SignedDevice."""
    return Depends(DeviceGuard(frozenset(DeviceKind(k) for k in kinds)))


def create_router(db_session: Any, require_roles: Callable[..., Any]) -> APIRouter:
    """The devices router, given the request-session and role-guard dependencies."""
    router = APIRouter(prefix="/devices", tags=["devices"])
    admins = require_roles(Role.ADMIN)
    readers = require_roles(Role.ADMIN, Role.AUDITOR)
    any_device = require_device(*DeviceKind)

    def now_of(request: Request) -> Any:
        return request.app.state.clock()

    @router.post("/pay-points", status_code=201)
    def create_pay_point(
        body: PayPointIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, admins],
    ) -> PayPointOut:
        pay_point = service.create_pay_point(
            session,
            code=body.code,
            name=body.name,
            address=body.address,
            actor=principal.actor,
            now=now_of(request),
        )
        return PayPointOut.of(pay_point)

    @router.get("/pay-points")
    def list_pay_points(
        session: db_session, principal: Annotated[Any, readers]
    ) -> list[PayPointOut]:
        from devices import repository

        return [PayPointOut.of(p) for p in repository.list_pay_points(session)]

    @router.post("", status_code=201)
    def register(
        body: DeviceIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, admins],
    ) -> RegisteredOut:
        """Register a device; the response holds its key secret, shown this once only."""
        now = now_of(request)
        device, issued = service.register_device(
            session,
            device_keyring(request),
            kind=body.kind,
            label=body.label,
            serial=body.serial,
            merchant_account_id=body.merchant_account_id,
            pay_point_code=body.pay_point,
            actor=principal.actor,
            now=now,
        )
        row = service.status_row(session, device, now=now, policy=_policy(request))
        return RegisteredOut(device=DeviceOut.of(row), key=KeyOut.of(issued))

    @router.get("")
    def list_devices(
        request: Request,
        session: db_session,
        principal: Annotated[Any, readers],
        kind: Annotated[DeviceKind | None, Query()] = None,
    ) -> list[DeviceOut]:
        """Every device with its status: online, faulty, offline, never-seen or revoked."""
        rows = service.device_statuses(
            session, now=now_of(request), kind=kind, policy=_policy(request)
        )
        return [DeviceOut.of(row) for row in rows]

    @router.get("/outages")
    def outages(
        start: datetime,
        end: datetime,
        request: Request,
        session: db_session,
        principal: Annotated[Any, readers],
    ) -> list[DeviceOutagesOut]:
        """Downtime per device in [start, end): gaps in heartbeats longer than online_within."""
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            raise ValidationFailed(
                "start and end are times with a zone offset, start before end",
                [FieldProblem("start", "e.g. 2026-11-22T00:00:00Z")],
            )
        rows = service.outage_report(
            session, start=start, end=end, now=now_of(request), policy=_policy(request)
        )
        return [DeviceOutagesOut.of(row) for row in rows]

    @router.get("/{device_id}")
    def get_device(
        device_id: int,
        request: Request,
        session: db_session,
        principal: Annotated[Any, readers],
    ) -> DeviceOut:
        device = service.get_device(session, device_id)
        return DeviceOut.of(
            service.status_row(session, device, now=now_of(request), policy=_policy(request))
        )

    @router.post("/{device_id}/keys", status_code=201)
    def rotate(
        device_id: int,
        request: Request,
        session: db_session,
        principal: Annotated[Any, admins],
    ) -> KeyOut:
        """Issue a new key; the old ones keep working for the rotation overlap, then stop."""
        issued = service.rotate_key(
            session,
            device_keyring(request),
            device_id=device_id,
            actor=principal.actor,
            now=now_of(request),
            policy=_policy(request),
        )
        return KeyOut.of(issued)

    @router.post("/{device_id}/revoke")
    def revoke(
        device_id: int,
        body: RevokeIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, admins],
    ) -> DeviceOut:
        now = now_of(request)
        device = service.revoke(
            session,
            device_id=device_id,
            key_id=body.key_id,
            reason=body.reason,
            actor=principal.actor,
            now=now,
        )
        return DeviceOut.of(service.status_row(session, device, now=now, policy=_policy(request)))

    @router.post("/keys/reseal")
    def reseal_keys(
        request: Request, session: db_session, principal: Annotated[Any, admins]
    ) -> dict[str, int]:
        """Re-encrypt device secrets with the active sealing key (before dropping an old one)."""
        return {"resealed": reseal(session, device_keyring(request))}

    @router.post("/heartbeat")
    def heartbeat(
        body: HeartbeatIn,
        request: Request,
        session: db_session,
        device: Annotated[SignedDevice, any_device],
    ) -> HeartbeatOut:
        """Signed by the device itself: records when it was last seen and how it is."""
        now = now_of(request)
        row = service.record_heartbeat(
            session,
            device,
            software_version=body.software_version,
            scanner_status=body.scanner_status,
            now=now,
        )
        return HeartbeatOut(
            device_id=row.id,
            status=service.status_of(row, now=now, policy=_policy(request)).value,
            server_time=now,
        )

    return router
