"""Queries of the devices domain (no rules here: those are in service.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from devices.models import Credential, Device, Heartbeat, PayPoint, UsedNonce
from payments.models import Account


def get_device(session: Session, device_id: int, *, for_update: bool = False) -> Device | None:
    if not for_update:
        return session.get(Device, device_id)
    return session.scalars(
        select(Device).where(Device.id == device_id).with_for_update()
    ).one_or_none()


def list_devices(session: Session, kind: str | None = None) -> list[Device]:
    query = select(Device).order_by(Device.id)
    if kind is not None:
        query = query.where(Device.kind == kind)
    return list(session.scalars(query))


def device_by_serial(session: Session, serial: str) -> Device | None:
    return session.scalars(select(Device).where(Device.serial == serial)).one_or_none()


def get_credential(session: Session, key_id: str) -> Credential | None:
    return session.get(Credential, key_id)


def credentials_of(session: Session, device_id: int) -> list[Credential]:
    return list(
        session.scalars(
            select(Credential)
            .where(Credential.device_id == device_id)
            .order_by(Credential.created_at, Credential.key_id)
        )
    )


def pay_point_by_code(session: Session, code: str) -> PayPoint | None:
    return session.scalars(select(PayPoint).where(PayPoint.code == code)).one_or_none()


def list_pay_points(session: Session) -> list[PayPoint]:
    return list(session.scalars(select(PayPoint).order_by(PayPoint.code)))


def account_kind(session: Session, account_id: int) -> str | None:
    """The payments account kind of ``account_id`` (None: no such account)."""
    return session.scalar(select(Account.kind).where(Account.id == account_id))


def claim_nonce(
    session: Session,
    *,
    device_id: int,
    nonce: str,
    key_id: str,
    seen_at: datetime,
    expires_at: datetime,
) -> bool:
    """Insert the nonce unless this device used it already; True if this call inserted it.

    The primary key decides: of concurrent claims, one inserts and the others find the row
    (on PostgreSQL they wait for the first transaction and then see its committed row).
    """
    dialect = session.get_bind().dialect.name
    insert_for = postgresql_insert if dialect == "postgresql" else sqlite_insert
    result = session.execute(
        insert_for(UsedNonce)
        .values(
            device_id=device_id,
            nonce=nonce,
            key_id=key_id,
            seen_at=seen_at,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=["device_id", "nonce"])
        .returning(UsedNonce.nonce)
    )
    # RETURNING rather than rowcount, which ORM-enabled inserts do not report on every driver.
    return result.first() is not None


def prune_nonces(session: Session, *, now: datetime, device_id: int | None = None) -> int:
    query = delete(UsedNonce).where(UsedNonce.expires_at < now)
    if device_id is not None:
        query = query.where(UsedNonce.device_id == device_id)
    result = session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


def heartbeats(
    session: Session, device_id: int, *, start: datetime, end: datetime
) -> list[datetime]:
    return list(
        session.scalars(
            select(Heartbeat.received_at)
            .where(
                Heartbeat.device_id == device_id,
                Heartbeat.received_at >= start,
                Heartbeat.received_at < end,
            )
            .order_by(Heartbeat.received_at)
        )
    )
