"""Device registry: kinds and bindings, sealed secrets, rotation with overlap, revocation, status."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from devices import service
from devices.credentials import open_secret, reseal
from devices.errors import (
    DeviceRevoked,
    DuplicateDevice,
    InvalidBinding,
    KeyRevoked,
    PayPointNotFound,
)
from devices.models import Credential, Device, DeviceKind
from devices.service import DevicePolicy, DeviceStatus, SignedDevice, SignedRequest
from devices.signing import SignedHeaders, body_digest
from matcher.crypto import DecryptionError, Keyring
from palmvein.core.audit import AuditEntry, verify_chain
from palmvein.core.db import unit_of_work

from ..conftest import FakeClock
from .conftest import Registered

COUNTER = DeviceKind.COUNTER_TERMINAL
POLICY = DevicePolicy(rotation_overlap=timedelta(minutes=10))


def _heartbeat_request(registered: Registered) -> SignedRequest:
    body = b"{}"
    headers = registered.signer.headers("POST", "/devices/heartbeat", body)
    return SignedRequest(
        "POST", "/devices/heartbeat", body_digest(body), SignedHeaders.from_headers(headers)
    )


def _authenticate(
    factory: sessionmaker[Session], keyring: Keyring, registered: Registered, clock: FakeClock
) -> SignedDevice:
    with unit_of_work(factory) as session:
        return service.authenticate(
            session,
            keyring,
            _heartbeat_request(registered),
            now=clock(),
            kinds=frozenset(DeviceKind),
            policy=POLICY,
        )


def test_each_kind_is_bound_as_its_kind_requires(
    db: Session, keyring: Keyring, clock: FakeClock, shops: dict[str, int]
) -> None:
    now = clock()
    post = service.create_pay_point(
        db, code="poste-bab-ezzouar", name="Poste Bab Ezzouar", address=None, actor="t", now=now
    )
    till, _ = service.register_device(
        db, keyring, kind=COUNTER, label="till", merchant_account_id=shops["A"], actor="t", now=now
    )
    desk, _ = service.register_device(
        db,
        keyring,
        kind=DeviceKind.PAY_POINT,
        label="desk",
        pay_point_code="poste-bab-ezzouar",
        actor="t",
        now=now,
    )
    scanner, _ = service.register_device(
        db,
        keyring,
        kind=DeviceKind.SCANNER,
        label="enrolment desk",
        serial="PV-1",
        actor="t",
        now=now,
    )
    assert (till.merchant_account_id, till.pay_point_id) == (shops["A"], None)
    assert (desk.merchant_account_id, desk.pay_point_id) == (None, post.id)
    assert (scanner.merchant_account_id, scanner.pay_point_id) == (None, None)


@pytest.mark.parametrize(
    ("kind", "binding", "error"),
    [
        (COUNTER, {}, InvalidBinding),
        (COUNTER, {"merchant_account_id": "wallet"}, InvalidBinding),
        (DeviceKind.PAY_POINT, {}, InvalidBinding),
        (DeviceKind.PAY_POINT, {"pay_point_code": "nowhere"}, PayPointNotFound),
        (DeviceKind.SCANNER, {"merchant_account_id": "A"}, InvalidBinding),
    ],
)
def test_a_binding_that_does_not_fit_the_kind_is_refused(
    db: Session,
    keyring: Keyring,
    clock: FakeClock,
    shops: dict[str, int],
    kind: DeviceKind,
    binding: dict[str, str],
    error: type[Exception],
) -> None:
    from payments import service as payments_service

    wallet = payments_service.open_wallet(
        db, person_id="amina", currency="DZD", phone="+213555000001", now=clock()
    )
    values = {"A": shops["A"], "wallet": wallet.id}
    resolved = {k: values.get(v, v) for k, v in binding.items()}
    with pytest.raises(error):
        service.register_device(
            db,
            keyring,
            kind=kind,
            label="x",
            actor="t",
            now=clock(),
            **resolved,  # type: ignore[arg-type]
        )
    assert db.scalars(select(Device)).all() == []


def test_the_database_refuses_a_counter_terminal_without_a_merchant(
    db: Session, clock: FakeClock
) -> None:
    from sqlalchemy.exc import IntegrityError

    db.add(Device(kind="counter_terminal", label="x", registered_at=clock(), registered_by="t"))
    with pytest.raises(IntegrityError):
        db.flush()


def test_a_serial_is_registered_once(db: Session, keyring: Keyring, clock: FakeClock) -> None:
    kwargs = {"kind": DeviceKind.SCANNER, "label": "s", "serial": "PV-9", "actor": "t"}
    service.register_device(db, keyring, now=clock(), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(DuplicateDevice):
        service.register_device(db, keyring, now=clock(), **kwargs)  # type: ignore[arg-type]


def test_the_secret_is_stored_sealed_and_bound_to_its_device(
    db: Session, keyring: Keyring, clock: FakeClock, shops: dict[str, int]
) -> None:
    device, issued = service.register_device(
        db, keyring, kind=COUNTER, label="t", merchant_account_id=shops["A"], actor="t", now=clock()
    )
    other, _ = service.register_device(
        db, keyring, kind=COUNTER, label="u", merchant_account_id=shops["B"], actor="t", now=clock()
    )
    row = db.get(Credential, issued.key_id)
    assert row is not None
    assert issued.secret.encode() not in row.ciphertext
    assert open_secret(keyring, row) == issued.secret
    # The same ciphertext moved to another device's row does not open.
    row.device_id = other.id
    with pytest.raises(DecryptionError):
        open_secret(keyring, row)
    # Nor with another key ring.
    row.device_id = device.id
    stranger = Keyring({"dev-k1": bytes(32)}, "dev-k1", b"x")
    with pytest.raises(DecryptionError):
        open_secret(stranger, row)


def test_reseal_moves_secrets_to_the_active_key_and_they_still_verify(
    session_factory: sessionmaker[Session],
    keyring: Keyring,
    clock: FakeClock,
    register: Callable[..., Registered],
) -> None:
    scanner = register(DeviceKind.SCANNER)
    new_ring = Keyring({"dev-k2": bytes(range(1, 33)), "dev-k1": bytes(range(32))}, "dev-k2", b"s")
    with unit_of_work(session_factory) as session:
        assert reseal(session, new_ring) == 1
        assert reseal(session, new_ring) == 0
    assert _authenticate(session_factory, new_ring, scanner, clock).device_id == scanner.device_id


def test_rotation_keeps_the_old_key_for_the_overlap_then_not(
    session_factory: sessionmaker[Session],
    keyring: Keyring,
    clock: FakeClock,
    register: Callable[..., Registered],
) -> None:
    from .conftest import make_signer

    old = register(DeviceKind.SCANNER)
    with unit_of_work(session_factory) as session:
        issued = service.rotate_key(
            session, keyring, device_id=old.device_id, actor="admin", now=clock(), policy=POLICY
        )
    assert issued.previous_keys_valid_until == clock() + timedelta(minutes=10)
    new = Registered(
        old.device_id,
        issued.key_id,
        issued.secret,
        make_signer(issued.key_id, issued.secret, clock),
    )

    clock.advance(minutes=9, seconds=59)
    assert _authenticate(session_factory, keyring, old, clock).key_id == old.key_id
    clock.advance(seconds=1)  # exactly the end of the overlap: the old key is over
    with pytest.raises(KeyRevoked):
        _authenticate(session_factory, keyring, old, clock)
    assert _authenticate(session_factory, keyring, new, clock).key_id == new.key_id


def test_a_second_rotation_does_not_extend_the_first_overlap(
    session_factory: sessionmaker[Session],
    keyring: Keyring,
    clock: FakeClock,
    register: Callable[..., Registered],
) -> None:
    first = register(DeviceKind.SCANNER)
    with unit_of_work(session_factory) as session:
        service.rotate_key(
            session, keyring, device_id=first.device_id, actor="a", now=clock(), policy=POLICY
        )
    clock.advance(minutes=5)
    with unit_of_work(session_factory) as session:
        service.rotate_key(
            session, keyring, device_id=first.device_id, actor="a", now=clock(), policy=POLICY
        )
    clock.advance(minutes=5)
    with pytest.raises(KeyRevoked):
        _authenticate(session_factory, keyring, first, clock)


def test_revoking_a_key_or_the_device_takes_effect_at_once(
    session_factory: sessionmaker[Session],
    keyring: Keyring,
    clock: FakeClock,
    register: Callable[..., Registered],
) -> None:
    one, two = register(DeviceKind.SCANNER, "one"), register(DeviceKind.SCANNER, "two")
    with unit_of_work(session_factory) as session:
        service.revoke(session, device_id=one.device_id, key_id=one.key_id, actor="a", now=clock())
        service.revoke(session, device_id=two.device_id, actor="a", now=clock(), reason="stolen")
    for registered in (one, two):
        with pytest.raises(KeyRevoked):
            _authenticate(session_factory, keyring, registered, clock)
    with unit_of_work(session_factory) as session, pytest.raises(DeviceRevoked):
        service.rotate_key(session, keyring, device_id=two.device_id, actor="a", now=clock())
    # A device whose only key was revoked gets a new one by rotation.
    with unit_of_work(session_factory) as session:
        issued = service.rotate_key(
            session, keyring, device_id=one.device_id, actor="a", now=clock()
        )
        assert service.status_row(
            session, service.get_device(session, one.device_id), now=clock()
        ).active_keys == [issued.key_id]


def test_every_registry_change_is_audited(
    session_factory: sessionmaker[Session],
    keyring: Keyring,
    clock: FakeClock,
    register: Callable[..., Registered],
) -> None:
    device = register(DeviceKind.SCANNER)
    with unit_of_work(session_factory) as session:
        service.rotate_key(session, keyring, device_id=device.device_id, actor="admin", now=clock())
        service.revoke(session, device_id=device.device_id, actor="admin", now=clock())
    with session_factory() as session:
        actions = session.scalars(
            select(AuditEntry.action)
            .where(
                AuditEntry.entity_type == "device", AuditEntry.entity_id == str(device.device_id)
            )
            .order_by(AuditEntry.seq)
        ).all()
        assert actions == ["devices.registered", "devices.key_rotated", "devices.revoked"]
        assert verify_chain(session).ok
        # The audit trail never holds a secret.
        data = " ".join(session.scalars(select(AuditEntry.data)))
        assert device.secret not in data


def test_status_is_online_faulty_offline_never_seen_or_revoked(
    session_factory: sessionmaker[Session],
    keyring: Keyring,
    clock: FakeClock,
    register: Callable[..., Registered],
) -> None:
    policy = DevicePolicy(online_within=timedelta(minutes=3))
    seen, never, gone = (register(DeviceKind.SCANNER, n) for n in ("seen", "never", "gone"))
    device = _authenticate(session_factory, keyring, seen, clock)
    with unit_of_work(session_factory) as session:
        service.record_heartbeat(
            session, device, software_version="1.0", scanner_status="ok", now=clock()
        )
        service.revoke(session, device_id=gone.device_id, actor="a", now=clock())

    def statuses() -> dict[int, DeviceStatus]:
        with session_factory() as session:
            rows = service.device_statuses(session, now=clock(), policy=policy)
            return {r.device.id: r.status for r in rows}

    assert statuses() == {
        seen.device_id: DeviceStatus.ONLINE,
        never.device_id: DeviceStatus.NEVER_SEEN,
        gone.device_id: DeviceStatus.REVOKED,
    }
    clock.advance(minutes=3)
    assert statuses()[seen.device_id] is DeviceStatus.ONLINE
    clock.advance(seconds=1)
    assert statuses()[seen.device_id] is DeviceStatus.OFFLINE
    # Back, but its scanner is broken: heartbeating and faulty, not online.
    with unit_of_work(session_factory) as session:
        service.record_heartbeat(
            session, device, software_version="1.0", scanner_status="faulty", now=clock()
        )
    assert statuses()[seen.device_id] is DeviceStatus.FAULTY
