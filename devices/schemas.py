"""Request and response bodies of the devices API (pydantic; no web framework here)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from devices.models import Device, DeviceKind, PayPoint
from devices.service import DeviceStatusRow, IssuedKey, OutageRow

# Upper case too: payroll files name pay points as the employer does (PP-ALGER-01).
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,39}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PayPointIn(_In):
    code: str = Field(pattern=CODE_PATTERN, examples=["poste-bab-ezzouar"])
    name: str = Field(min_length=1, max_length=200, examples=["Bureau de poste Bab Ezzouar"])
    address: str | None = Field(default=None, max_length=300)


class PayPointOut(BaseModel):
    id: int
    code: str
    name: str
    address: str | None

    @classmethod
    def of(cls, pay_point: PayPoint) -> PayPointOut:
        return cls(
            id=pay_point.id, code=pay_point.code, name=pay_point.name, address=pay_point.address
        )


class DeviceIn(_In):
    kind: DeviceKind
    label: str = Field(min_length=1, max_length=200, examples=["Till 1, Epicerie El Bahdja"])
    serial: str | None = Field(default=None, min_length=1, max_length=100)
    merchant_account_id: int | None = Field(
        default=None, description="Payments merchant account (counter terminals only)."
    )
    pay_point: str | None = Field(
        default=None, pattern=CODE_PATTERN, description="Pay point code (pay point devices)."
    )


class KeyOut(BaseModel):
    """A new key. ``secret`` is shown in this response only; store it in the terminal."""

    device_id: int
    key_id: str
    secret: str
    previous_keys_valid_until: datetime | None = None

    @classmethod
    def of(cls, issued: IssuedKey) -> KeyOut:
        return cls(
            device_id=issued.device_id,
            key_id=issued.key_id,
            secret=issued.secret,
            previous_keys_valid_until=issued.previous_keys_valid_until,
        )


class DeviceOut(BaseModel):
    id: int
    kind: str
    label: str
    serial: str | None
    merchant_account_id: int | None
    pay_point_id: int | None
    status: str
    registered_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None
    software_version: str | None
    scanner_status: str | None
    active_keys: list[str]

    @classmethod
    def of(cls, row: DeviceStatusRow) -> DeviceOut:
        device: Device = row.device
        return cls(
            id=device.id,
            kind=device.kind,
            label=device.label,
            serial=device.serial,
            merchant_account_id=device.merchant_account_id,
            pay_point_id=device.pay_point_id,
            status=row.status.value,
            registered_at=device.registered_at,
            revoked_at=device.revoked_at,
            last_seen_at=device.last_seen_at,
            software_version=device.software_version,
            scanner_status=device.scanner_status,
            active_keys=row.active_keys,
        )


class RegisteredOut(BaseModel):
    device: DeviceOut
    key: KeyOut


class RevokeIn(_In):
    key_id: str | None = Field(
        default=None, max_length=40, description="Revoke only this key (default: the device)."
    )
    reason: str = Field(default="", max_length=200)


class HeartbeatIn(_In):
    software_version: str = Field(min_length=1, max_length=60, examples=["pv-term 2.4.1"])
    scanner_status: str = Field(
        pattern=r"^[a-z][a-z0-9_-]{0,39}$",
        examples=["ok"],
        description="ok, degraded, faulty, disconnected, or a vendor code.",
    )


class HeartbeatOut(BaseModel):
    device_id: int
    status: str
    server_time: datetime


class OutageOut(BaseModel):
    start: datetime
    end: datetime
    seconds: int


class DeviceOutagesOut(BaseModel):
    device_id: int
    kind: str
    label: str
    observed_seconds: int
    downtime_seconds: int
    outages: list[OutageOut]

    @classmethod
    def of(cls, row: OutageRow) -> DeviceOutagesOut:
        return cls(
            device_id=row.device.id,
            kind=row.device.kind,
            label=row.device.label,
            observed_seconds=int(row.observed.total_seconds()),
            downtime_seconds=int(row.downtime.total_seconds()),
            outages=[
                OutageOut(start=o.start, end=o.end, seconds=int(o.duration.total_seconds()))
                for o in row.outages
            ],
        )
