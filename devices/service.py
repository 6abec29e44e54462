"""Rules of the devices domain: registration, keys, signed-request verification, heartbeats.

Services never commit. Verification (:func:`authenticate`) is meant to run in a short unit of
work of its own, committed before the request's handler runs: the nonce it claims is then used
up whatever the handler does, so a replay is refused even if the first request failed.
Rejections are recorded with :func:`record_rejection` in yet another unit of work, since the
one that raised is rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from devices import repository
from devices.credentials import open_secret, seal_secret
from devices.errors import (
    BadSignature,
    DeviceNotFound,
    DeviceRevoked,
    DuplicateDevice,
    InvalidBinding,
    KeyRevoked,
    NonceReused,
    PayPointNotFound,
    SignatureMalformed,
    SignatureMissing,
    SignatureRejected,
    StaleRequest,
    UnknownKey,
    WrongDevice,
)
from devices.models import Credential, Device, DeviceKind, Heartbeat, PayPoint
from devices.signing import (
    KEY_ID_PATTERN,
    NONCE_PATTERN,
    SIGNATURE_PATTERN,
    TIMESTAMP_PATTERN,
    MalformedSecret,
    SignedHeaders,
    canonical_string,
    new_key_id,
    new_secret,
    secret_key_bytes,
    signature,
    signatures_match,
)
from matcher.crypto import DecryptionError, Keyring, KeyringError
from palmvein.core import audit
from palmvein.core.errors import FieldProblem


@dataclass(frozen=True)
class DevicePolicy:
    """Tunable times of the devices domain.

    Parameters
    ----------
    window : timedelta
        A request is accepted while ``|server time - its timestamp| <= window``.
    rotation_overlap : timedelta
        How long a key replaced by a rotation keeps working.
    online_within : timedelta
        A device whose last heartbeat is at most ``online_within`` old is online (or faulty,
        when it reports its scanner so); older, offline.
    """

    window: timedelta = timedelta(seconds=300)
    rotation_overlap: timedelta = timedelta(minutes=15)
    online_within: timedelta = timedelta(minutes=3)

    @property
    def nonce_retention(self) -> timedelta:
        # A nonce must be remembered as long as a request carrying it could pass the window
        # check: until its timestamp + window. One more minute covers rounding and slow commits.
        return self.window + timedelta(minutes=1)


DEFAULT_POLICY = DevicePolicy()


class DeviceStatus(StrEnum):
    ONLINE = "online"
    FAULTY = "faulty"  # heartbeating, but reporting its scanner faulty or disconnected
    OFFLINE = "offline"  # no heartbeat within the policy's window
    NEVER_SEEN = "never-seen"
    REVOKED = "revoked"


#: Scanner states in a heartbeat that make an online device count as faulty.
FAULTY_SCANNER_STATES = frozenset({"faulty", "disconnected"})


@dataclass(frozen=True)
class IssuedKey:
    """A new key; ``secret`` is shown once and never again."""

    device_id: int
    key_id: str
    secret: str
    previous_keys_valid_until: datetime | None = None


@dataclass(frozen=True)
class SignedRequest:
    """What verification needs of an HTTP request."""

    method: str
    target: str
    body_sha256: str
    headers: SignedHeaders | None
    client: str = ""


@dataclass(frozen=True)
class SignedDevice:
    """The device behind an accepted signed request."""

    device_id: int
    kind: str
    key_id: str
    merchant_account_id: int | None
    pay_point_id: int | None
    # Given by the HTTP layer: records and returns a WrongDevice for a refusal made by a route
    # after verification (the request's own transaction is rolled back, the audit row is not).
    refuse_hook: Any = field(default=None, compare=False, repr=False)

    @property
    def actor(self) -> str:
        """How this device appears in the audit log and as a payments initiator."""
        return f"device:{self.device_id}"

    def refuse(self, message: str) -> WrongDevice:
        error = WrongDevice(message)
        if self.refuse_hook is not None:
            self.refuse_hook(error)
        return error


@dataclass(frozen=True)
class DeviceStatusRow:
    device: Device
    status: DeviceStatus
    active_keys: list[str]


# -- registration ---------------------------------------------------------------------------


def create_pay_point(
    session: Session, *, code: str, name: str, address: str | None, actor: str, now: datetime
) -> PayPoint:
    if repository.pay_point_by_code(session, code) is not None:
        raise DuplicateDevice(f"pay point {code!r} exists already")
    pay_point = PayPoint(code=code, name=name, address=address, created_at=now, created_by=actor)
    session.add(pay_point)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="devices.pay_point_created",
        entity_type="pay_point",
        entity_id=str(pay_point.id),
        data={"code": code, "name": name},
        at=now,
    )
    return pay_point


def _binding(
    session: Session,
    kind: DeviceKind,
    merchant_account_id: int | None,
    pay_point_code: str | None,
) -> tuple[int | None, int | None]:
    if kind is DeviceKind.COUNTER_TERMINAL:
        if merchant_account_id is None or pay_point_code is not None:
            raise InvalidBinding(
                "a counter terminal is bound to one merchant account and no pay point",
                [FieldProblem("merchant_account_id", "required for a counter terminal")],
            )
        if repository.account_kind(session, merchant_account_id) != "merchant":
            raise InvalidBinding(
                f"account {merchant_account_id} is not a merchant account",
                [FieldProblem("merchant_account_id", "a payments merchant account id")],
            )
        return merchant_account_id, None
    if merchant_account_id is not None:
        raise InvalidBinding(
            f"a {kind.value} is not bound to a merchant",
            [FieldProblem("merchant_account_id", "only counter terminals have a merchant")],
        )
    if pay_point_code is None:
        if kind is DeviceKind.PAY_POINT:
            raise InvalidBinding(
                "a pay point device is bound to a pay point",
                [FieldProblem("pay_point", "required for a pay point device")],
            )
        return None, None
    pay_point = repository.pay_point_by_code(session, pay_point_code)
    if pay_point is None:
        raise PayPointNotFound(f"no pay point {pay_point_code!r}")
    return None, pay_point.id


def _issue(
    session: Session, keyring: Keyring, device: Device, *, actor: str, now: datetime
) -> IssuedKey:
    key_id, secret = new_key_id(), new_secret()
    sealed = seal_secret(keyring, key_id=key_id, device_id=device.id, secret=secret)
    session.add(
        Credential(
            key_id=key_id,
            device_id=device.id,
            sealing_key_id=sealed.key_id,
            nonce=sealed.nonce,
            ciphertext=sealed.ciphertext,
            created_at=now,
            created_by=actor,
        )
    )
    session.flush()
    return IssuedKey(device_id=device.id, key_id=key_id, secret=secret)


def register_device(
    session: Session,
    keyring: Keyring,
    *,
    kind: DeviceKind,
    label: str,
    actor: str,
    now: datetime,
    serial: str | None = None,
    merchant_account_id: int | None = None,
    pay_point_code: str | None = None,
) -> tuple[Device, IssuedKey]:
    """Register a device and issue its first key (the secret is in the returned IssuedKey)."""
    merchant, pay_point_id = _binding(session, kind, merchant_account_id, pay_point_code)
    if serial is not None and repository.device_by_serial(session, serial) is not None:
        raise DuplicateDevice(f"a device with serial {serial!r} is registered already")
    device = Device(
        kind=kind.value,
        label=label,
        serial=serial,
        merchant_account_id=merchant,
        pay_point_id=pay_point_id,
        registered_at=now,
        registered_by=actor,
    )
    session.add(device)
    session.flush()
    issued = _issue(session, keyring, device, actor=actor, now=now)
    audit.record(
        session,
        actor=actor,
        action="devices.registered",
        entity_type="device",
        entity_id=str(device.id),
        data={
            "kind": kind.value,
            "label": label,
            "serial": serial,
            "merchant_account_id": merchant,
            "pay_point_id": pay_point_id,
            "key_id": issued.key_id,
        },
        at=now,
    )
    return device, issued


def get_device(session: Session, device_id: int, *, for_update: bool = False) -> Device:
    device = repository.get_device(session, device_id, for_update=for_update)
    if device is None:
        raise DeviceNotFound(f"no device {device_id}")
    return device


def _key_valid(credential: Credential, now: datetime) -> bool:
    return credential.revoked_at is None and (
        credential.expires_at is None or now < credential.expires_at
    )


def rotate_key(
    session: Session,
    keyring: Keyring,
    *,
    device_id: int,
    actor: str,
    now: datetime,
    policy: DevicePolicy = DEFAULT_POLICY,
) -> IssuedKey:
    """Issue a new key; the device's current keys keep working for ``rotation_overlap``."""
    device = get_device(session, device_id, for_update=True)
    if device.revoked_at is not None:
        raise DeviceRevoked(f"device {device_id} is revoked; register a new device")
    until = now + policy.rotation_overlap
    for credential in repository.credentials_of(session, device_id):
        if _key_valid(credential, now) and (
            credential.expires_at is None or credential.expires_at > until
        ):
            credential.expires_at = until
    issued = _issue(session, keyring, device, actor=actor, now=now)
    audit.record(
        session,
        actor=actor,
        action="devices.key_rotated",
        entity_type="device",
        entity_id=str(device_id),
        data={"key_id": issued.key_id, "previous_keys_valid_until": until.isoformat()},
        at=now,
    )
    return IssuedKey(device_id, issued.key_id, issued.secret, previous_keys_valid_until=until)


def revoke(
    session: Session,
    *,
    device_id: int,
    actor: str,
    now: datetime,
    key_id: str | None = None,
    reason: str = "",
) -> Device:
    """Revoke one key, or (no ``key_id``) the device and every key it has; effective at once."""
    device = get_device(session, device_id, for_update=True)
    credentials = repository.credentials_of(session, device_id)
    if key_id is not None:
        matching = [c for c in credentials if c.key_id == key_id]
        if not matching:
            raise DeviceNotFound(f"device {device_id} has no key {key_id!r}")
        credentials = matching
    elif device.revoked_at is None:
        device.revoked_at = now
    revoked = []
    for credential in credentials:
        if credential.revoked_at is None:
            credential.revoked_at = now
            revoked.append(credential.key_id)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="devices.key_revoked" if key_id else "devices.revoked",
        entity_type="device",
        entity_id=str(device_id),
        data={"key_ids": revoked, "reason": reason},
        at=now,
    )
    return device


# -- signed requests ------------------------------------------------------------------------


def _parse(request: SignedRequest) -> tuple[SignedHeaders, int]:
    headers = request.headers
    if headers is None:
        raise SignatureMissing(
            "this route needs a signed device request (X-Palmvein-Key-Id, -Timestamp, -Nonce, "
            "-Signature headers)"
        )
    problems = []
    if not KEY_ID_PATTERN.match(headers.key_id):
        problems.append(FieldProblem("X-Palmvein-Key-Id", "dk_ and 16 hex digits"))
    if not TIMESTAMP_PATTERN.match(headers.timestamp):
        problems.append(FieldProblem("X-Palmvein-Timestamp", "Unix seconds"))
    if not NONCE_PATTERN.match(headers.nonce):
        problems.append(FieldProblem("X-Palmvein-Nonce", "16-64 characters A-Z a-z 0-9 _ -"))
    if not SIGNATURE_PATTERN.match(headers.signature):
        problems.append(FieldProblem("X-Palmvein-Signature", "64 lower-case hex digits"))
    if problems:
        fields = ", ".join(p.field for p in problems)
        raise SignatureMalformed(f"malformed signature header(s): {fields}")
    return headers, int(headers.timestamp)


def authenticate(
    session: Session,
    keyring: Keyring,
    request: SignedRequest,
    *,
    now: datetime,
    kinds: frozenset[DeviceKind],
    policy: DevicePolicy = DEFAULT_POLICY,
) -> SignedDevice:
    """Accept a signed request or raise a SignatureRejected (401) or WrongDevice (403).

    Checks, in order: headers present and well-formed; key known; key and device not revoked
    and the key not past its rotation overlap; signature (constant-time); timestamp within
    ``policy.window``; nonce not used before by this device (claimed here, in ``session``);
    device of one of ``kinds``.
    """
    headers, timestamp = _parse(request)
    credential = repository.get_credential(session, headers.key_id)
    if credential is None:
        raise UnknownKey(f"unknown device key {headers.key_id!r}")
    device = get_device(session, credential.device_id)
    if device.revoked_at is not None or not _key_valid(credential, now):
        raise KeyRevoked(f"device key {headers.key_id!r} is revoked or expired")
    try:
        key = secret_key_bytes(open_secret(keyring, credential))
    except (DecryptionError, KeyringError, MalformedSecret):
        # A secret the server cannot open verifies nothing; the operator must re-key.
        raise UnknownKey(
            f"device key {headers.key_id!r} cannot be opened with the configured key ring"
        ) from None
    canonical = canonical_string(
        method=request.method,
        target=request.target,
        body_sha256=request.body_sha256,
        timestamp=headers.timestamp,
        nonce=headers.nonce,
        key_id=headers.key_id,
    )
    if not signatures_match(signature(key, canonical), headers.signature):
        raise BadSignature("the request signature does not match")
    sent_at = datetime.fromtimestamp(timestamp, UTC)
    skew = now - sent_at
    if abs(skew) > policy.window:
        raise StaleRequest(
            f"request timestamp is {skew.total_seconds():+.0f} s from the server clock; "
            f"at most {policy.window.total_seconds():.0f} s is accepted (check the device clock)"
        )
    repository.prune_nonces(session, now=now, device_id=device.id)
    if not repository.claim_nonce(
        session,
        device_id=device.id,
        nonce=headers.nonce,
        key_id=headers.key_id,
        seen_at=now,
        expires_at=max(now, sent_at) + policy.nonce_retention,
    ):
        raise NonceReused("this nonce was used already: the request is a replay")
    if DeviceKind(device.kind) not in kinds:
        allowed = ", ".join(sorted(k.value for k in kinds))
        raise WrongDevice(f"a {device.kind} may not make this request (needs: {allowed})")
    return SignedDevice(
        device_id=device.id,
        kind=device.kind,
        key_id=credential.key_id,
        merchant_account_id=device.merchant_account_id,
        pay_point_id=device.pay_point_id,
    )


def record_rejection(
    session: Session,
    error: SignatureRejected | WrongDevice,
    request: SignedRequest,
    *,
    now: datetime,
    device_id: int | None = None,
) -> None:
    """Audit a refused device request (in a transaction that is committed, not rolled back)."""
    headers = request.headers
    key_id = headers.key_id[:40] if headers else ""
    if device_id is None and headers is not None:
        credential = repository.get_credential(session, headers.key_id[:40])
        device_id = credential.device_id if credential else None
    audit.record(
        session,
        actor=f"device:{device_id}" if device_id is not None else "device:unknown",
        action="devices.request_rejected",
        entity_type="device",
        entity_id=str(device_id) if device_id is not None else "unknown",
        data={
            "reason": error.reason,
            "detail": error.message,
            "method": request.method,
            "target": request.target[:300],
            "key_id": key_id,
            "nonce": headers.nonce[:64] if headers else "",
            "client": request.client,
        },
        at=now,
    )


# -- heartbeats and status ------------------------------------------------------------------


def record_heartbeat(
    session: Session,
    device: SignedDevice,
    *,
    software_version: str,
    scanner_status: str,
    now: datetime,
) -> Device:
    row = get_device(session, device.device_id)
    row.last_seen_at = now
    row.software_version = software_version
    row.scanner_status = scanner_status
    session.add(
        Heartbeat(
            device_id=row.id,
            received_at=now,
            software_version=software_version,
            scanner_status=scanner_status,
        )
    )
    session.flush()
    return row


def status_of(
    device: Device, *, now: datetime, policy: DevicePolicy = DEFAULT_POLICY
) -> DeviceStatus:
    if device.revoked_at is not None:
        return DeviceStatus.REVOKED
    if device.last_seen_at is None:
        return DeviceStatus.NEVER_SEEN
    if now - device.last_seen_at > policy.online_within:
        return DeviceStatus.OFFLINE
    if (device.scanner_status or "").lower() in FAULTY_SCANNER_STATES:
        return DeviceStatus.FAULTY
    return DeviceStatus.ONLINE


def device_statuses(
    session: Session,
    *,
    now: datetime,
    kind: DeviceKind | None = None,
    policy: DevicePolicy = DEFAULT_POLICY,
) -> list[DeviceStatusRow]:
    return [
        status_row(session, device, now=now, policy=policy)
        for device in repository.list_devices(session, kind.value if kind else None)
    ]


def status_row(
    session: Session, device: Device, *, now: datetime, policy: DevicePolicy = DEFAULT_POLICY
) -> DeviceStatusRow:
    keys = [c.key_id for c in repository.credentials_of(session, device.id) if _key_valid(c, now)]
    return DeviceStatusRow(device, status_of(device, now=now, policy=policy), keys)


def prune_nonces(session: Session, *, now: datetime) -> int:
    """Forget nonces no request could still be accepted with (a periodic job)."""
    return repository.prune_nonces(session, now=now)


@dataclass(frozen=True)
class Outage:
    """A stretch without heartbeats longer than ``online_within``: [start, end)."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class OutageRow:
    device: Device
    outages: list[Outage]
    observed: timedelta  # the part of the period the device was registered and not revoked

    @property
    def downtime(self) -> timedelta:
        return sum((o.duration for o in self.outages), timedelta())


def outage_report(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    policy: DevicePolicy = DEFAULT_POLICY,
) -> list[OutageRow]:
    """Downtime per device in [start, end).

    A heartbeat counts the device up for ``policy.online_within`` after it; any time in the
    period (from registration, until revocation) not covered that way is an outage. A device
    that never sent a heartbeat is down for the whole of its observed period.
    """
    if now is not None:
        end = min(end, now)  # the future has no outages yet
    rows = []
    for device in repository.list_devices(session):
        begin = max(start, device.registered_at)
        finish = min(end, device.revoked_at) if device.revoked_at else end
        if finish <= begin:
            rows.append(OutageRow(device, [], timedelta()))
            continue
        beats = repository.heartbeats(
            session, device.id, start=begin - policy.online_within, end=finish
        )
        outages: list[Outage] = []
        up_until = begin
        for beat in beats:
            if beat > up_until:
                outages.append(Outage(up_until, beat))
            up_until = max(up_until, beat + policy.online_within)
        if up_until < finish:
            outages.append(Outage(up_until, finish))
        rows.append(OutageRow(device, outages, finish - begin))
    return rows
