"""Tables of the devices domain: pay points, devices, their keys, used nonces, heartbeats.

A device is one of three kinds, and its kind decides what it is bound to (a CHECK constraint
keeps the two consistent):

- ``counter_terminal``: a shop's till; bound to one merchant account of payments
  (``pay_accounts.id``), which is where its sales are paid;
- ``pay_point``: a terminal at a pay point (a post office, an agency desk) where salaries are
  released; bound to one :class:`PayPoint`;
- ``scanner``: a palm scanner at an enrolment desk or beside a terminal; optionally at a pay
  point, never bound to a merchant.

A device authenticates with HMAC keys (:class:`Credential`); ``dev_nonces`` remembers every
nonce seen within the signature window, and its primary key is what stops two concurrent
copies of one request from both being accepted.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from palmvein.core.db import Base, UtcDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class DeviceKind(StrEnum):
    SCANNER = "scanner"
    COUNTER_TERMINAL = "counter_terminal"
    PAY_POINT = "pay_point"


_BINDING_RULE = (
    "(kind = 'counter_terminal' AND merchant_account_id IS NOT NULL AND pay_point_id IS NULL)"
    " OR (kind = 'pay_point' AND pay_point_id IS NOT NULL AND merchant_account_id IS NULL)"
    " OR (kind = 'scanner' AND merchant_account_id IS NULL)"
)


class PayPoint(Base):
    """A named place where salaries are paid out (a post office, an agency desk)."""

    __tablename__ = "dev_pay_points"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


class Device(Base):
    __tablename__ = "dev_devices"
    __table_args__ = (
        CheckConstraint("kind IN ('scanner', 'counter_terminal', 'pay_point')", name="known_kind"),
        CheckConstraint(_BINDING_RULE, name="binding_matches_kind"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    serial: Mapped[str | None] = mapped_column(String(100), unique=True)
    merchant_account_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("pay_accounts.id"), index=True
    )
    pay_point_id: Mapped[int | None] = mapped_column(ForeignKey("dev_pay_points.id"), index=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    registered_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Copied from the latest heartbeat so the status list needs no scan of dev_heartbeats.
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    software_version: Mapped[str | None] = mapped_column(String(60))
    scanner_status: Mapped[str | None] = mapped_column(String(40))


class Credential(Base):
    """One HMAC key of a device. The secret is stored sealed (AES-256-GCM), see credentials.py.

    ``expires_at`` is set when a rotation replaces the key: it stays valid until then (the
    overlap), then not. ``revoked_at`` ends it at once.
    """

    __tablename__ = "dev_credentials"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("dev_devices.id"), index=True)
    sealing_key_id: Mapped[str] = mapped_column(String(40))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class UsedNonce(Base):
    """A nonce a device has used; kept until its signature could no longer be accepted anyway."""

    __tablename__ = "dev_nonces"

    device_id: Mapped[int] = mapped_column(ForeignKey("dev_devices.id"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class Heartbeat(Base):
    """One heartbeat as received; the history behind outage (downtime) reports."""

    __tablename__ = "dev_heartbeats"
    __table_args__ = (Index("ix_dev_heartbeats_device_id_received_at", "device_id", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("dev_devices.id"))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    software_version: Mapped[str] = mapped_column(String(60))
    scanner_status: Mapped[str] = mapped_column(String(40))
