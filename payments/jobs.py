"""Periodic work of the payments domain, one call per tick of a scheduler (cron, systemd timer,
or a loop in a worker process): expire lapsed purchase authorisations, forget idempotency keys
past their retention, and send queued notifications.

Each step runs in its own unit of work, so one failing step does not hold back the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import unit_of_work
from payments import idempotency, outbox, service
from payments.sms import SmsSender


@dataclass(frozen=True)
class TickReport:
    expired_authorizations: int
    purged_keys: int
    notifications: outbox.DispatchReport


def tick(factory: sessionmaker[Session], sender: SmsSender, *, now: datetime) -> TickReport:
    with unit_of_work(factory) as session:
        expired = service.expire_authorizations(session, now=now)
    with unit_of_work(factory) as session:
        purged = idempotency.purge_expired(session, now=now)
    sent = outbox.dispatch(factory, sender, now=now)
    return TickReport(expired_authorizations=expired, purged_keys=purged, notifications=sent)
