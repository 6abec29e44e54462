"""Transactional outbox for notifications, and the dispatcher that drains it.

Messages are inserted in the same database transaction as the money movement they announce, so a
payment is never notified without having happened, and never happens without a notification
queued. The dispatcher sends them afterwards, at least once: a crash after the gateway accepted a
message but before its row was marked sent means it is sent again (SMS gateways have no
idempotency key we could rely on).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import unit_of_work
from payments import pgfast
from payments.models import OutboxMessage, OutboxStatus
from payments.sms import SmsDeliveryError, SmsSender

_INSERT_MESSAGE = pgfast.Insert(
    OutboxMessage.__table__,
    (
        "channel",
        "recipient",
        "body",
        "operation_id",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "sent_at",
    ),
)
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=30)


def enqueue_sms(
    session: Session,
    *,
    recipient: str,
    body: str,
    now: datetime,
    operation_id: uuid.UUID | None = None,
) -> None:
    enqueue_many(session, [(recipient, body)], now=now, operation_id=operation_id)


def enqueue_many(
    session: Session,
    messages: Sequence[tuple[str, str]],
    *,
    now: datetime,
    operation_id: uuid.UUID | None = None,
    writes: pgfast.Writes | None = None,
) -> None:
    """Queue SMS ``(recipient, body)`` pairs in the caller's transaction (one pipelined batch),
    or in ``writes``, which the caller sends (see :mod:`payments.pgfast`)."""
    if not messages:
        return
    # Sent here unless the caller passed its buffer (Writes.send flushes the ORM first: the
    # operation the messages point at may still be pending there).
    with pgfast.batch(session, writes) as buffer:
        buffer.add(
            _INSERT_MESSAGE,
            [
                {
                    "channel": "sms",
                    "recipient": recipient,
                    "body": body,
                    "operation_id": operation_id,
                    "status": OutboxStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": None,
                    "created_at": now,
                    "sent_at": None,
                }
                for recipient, body in messages
            ],
        )


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: 30 s, 1 min, 2 min, 4 min, ... after the first, second, ... failure."""
    return FIRST_RETRY * int(2 ** max(attempts - 1, 0))


@dataclass(frozen=True)
class DispatchReport:
    sent: int
    retried: int
    dead: int


def dispatch(
    factory: sessionmaker[Session],
    sender: SmsSender,
    *,
    now: datetime,
    batch_size: int = 50,
    max_attempts: int = MAX_ATTEMPTS,
) -> DispatchReport:
    """Send up to ``batch_size`` due messages, in one transaction that it commits itself.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so several dispatchers can run at once
    without sending a message twice.
    """
    sent = retried = dead = 0
    with unit_of_work(factory) as session:
        messages = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        for message in messages:
            message.attempts += 1
            try:
                sender.send(message.recipient, message.body)
            except SmsDeliveryError as exc:
                message.last_error = str(exc)[:1000]
                if message.attempts >= max_attempts:
                    message.status = OutboxStatus.DEAD.value
                    dead += 1
                else:
                    message.next_attempt_at = now + retry_delay(message.attempts)
                    retried += 1
                continue
            message.status = OutboxStatus.SENT.value
            message.sent_at = now
            message.last_error = None
            sent += 1
    return DispatchReport(sent=sent, retried=retried, dead=dead)
