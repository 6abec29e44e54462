"""Idempotency keys for money-moving requests, in the manner of Stripe's ``Idempotency-Key``.

The stored response is written in the same database transaction as the money movement, so the
two commit or vanish together: a crash mid-request leaves neither, and the client's retry runs
the request afresh. Outcomes:

- new key: the request runs; its response is stored with a fingerprint of the request;
- same key, same fingerprint: the stored response is returned, nothing runs again;
- same key, different fingerprint: :class:`IdempotencyKeyReused` (422);
- same key while the first request is still running: :class:`RequestInFlight` (409). On
  PostgreSQL this is detected without waiting, with a transaction-scoped advisory lock on the key.
  SQLite has no such lock: a duplicate that arrives after the first committed replays, one that
  overlaps it fails on SQLite's write lock ("database is locked") and can be retried. SQLite is
  for single-user demos; concurrent money movement needs PostgreSQL.

Refused requests (insufficient funds, limits, ...) roll back and store nothing, so a retry with
the same key is evaluated again; only completed money movements are remembered. Keys are kept for
:data:`KEY_RETENTION` at least; :func:`purge_expired` removes older ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from palmvein.core.errors import ValidationFailed
from payments import pgfast
from payments.errors import DuplicateClientReference, IdempotencyKeyReused, RequestInFlight
from payments.models import IdempotencyRecord, Operation

KEY_RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class IdempotentResponse:
    status: int
    body: dict[str, Any]
    replayed: bool


def fingerprint(operation: str, request: Mapping[str, Any]) -> str:
    """SHA-256 of the operation name and the request in canonical JSON."""
    canonical = json.dumps(
        {"operation": operation, "request": request},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable() or key.strip() != key:
        raise ValidationFailed(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters without "
            "surrounding spaces (a UUID is a good choice)"
        )


def _advisory_lock_id(scope: str, key: str) -> int:
    digest = hashlib.sha256(f"palmvein.payments.idempotency\0{scope}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_CLAIM = pgfast.Statement(select(func.pg_try_advisory_xact_lock(bindparam("lock_id"))))
_RECORD = IdempotencyRecord.__table__
_LOOKUP = pgfast.Statement(
    select(
        _RECORD.c.request_hash,
        _RECORD.c.response_status,
        _RECORD.c.response_body,
        _RECORD.c.expires_at,
    ).where(_RECORD.c.scope == bindparam("scope"), _RECORD.c.key == bindparam("key"))
)
_INSERT_RECORD = pgfast.Insert(
    _RECORD,
    (
        "scope",
        "key",
        "request_hash",
        "response_status",
        "response_body",
        "created_at",
        "expires_at",
    ),
)


def _claim_and_look_up(session: Session, scope: str, key: str) -> Any | None:
    """Claim the key for this transaction and read what is stored under it.

    The lookup is its own statement after the claim (sent in the same pipeline on PostgreSQL):
    READ COMMITTED takes a new snapshot per statement, so a first request that committed before
    we got the lock is seen. The claim does not wait: a key held by a running request is a 409.
    """
    lookup = (_LOOKUP, {"scope": scope, "key": key})
    if session.get_bind().dialect.name != "postgresql":
        (found,) = pgfast.fetch(session, lookup)
        return found[0] if found else None
    claimed, found = pgfast.fetch(
        session, (_CLAIM, {"lock_id": _advisory_lock_id(scope, key)}), lookup
    )
    if not claimed[0][0]:
        raise RequestInFlight(
            f"a request with Idempotency-Key {key!r} is still being processed; retry shortly"
        )
    return found[0] if found else None


def run_idempotent(
    session: Session,
    *,
    scope: str,
    key: str,
    operation: str,
    request: Mapping[str, Any],
    now: datetime,
    action: Callable[[], tuple[int, dict[str, Any]]],
    commit: bool = False,
) -> IdempotentResponse:
    """Run ``action`` once per (``scope``, ``key``); ``action`` returns (status, JSON body).

    ``scope`` separates callers (one terminal's keys never collide with another's). The stored
    response goes to the database with the action's own INSERTs when the action leaves them in
    the session's :func:`payments.pgfast.writes` buffer (one round trip on PostgreSQL).

    ``commit``: the request boundary asks for the transaction to be committed here when nothing
    was refused (a replay too), so that on PostgreSQL the COMMIT travels with those INSERTs. A
    failure of the COMMIT itself is raised as ``Session.commit()`` raises it, never mapped to an
    idempotency problem; a refusal raises before anything is committed, as without ``commit``.
    """
    check_key(key)
    digest = fingerprint(operation, request)
    stored = _claim_and_look_up(session, scope, key)
    if stored is not None and stored[3] <= now:
        session.connection().execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )
        stored = None
    if stored is not None:
        request_hash, response_status, response_body, _ = stored
        if request_hash != digest:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {key!r} was already used for a different request; "
                "use a new key for a new request"
            )
        body: dict[str, Any] = json.loads(response_body)
        if commit:
            session.commit()
        return IdempotentResponse(status=response_status, body=body, replayed=True)
    with pgfast.writes(session) as writes:
        status, body = action()
        writes.add(
            _INSERT_RECORD,
            [
                {
                    "scope": scope,
                    "key": key,
                    "request_hash": digest,
                    "response_status": status,
                    "response_body": json.dumps(body, sort_keys=True, default=str),
                    "created_at": now,
                    "expires_at": now + KEY_RETENTION,
                }
            ],
        )
        try:
            writes.send(session, commit=commit)
        except pgfast.CommitFailed as failed:
            raise failed.error from failed.__cause__
        except IntegrityError as exc:
            if pgfast.violated_table(exc) == Operation.__tablename__:
                # The action's own INSERT: its client reference was taken concurrently.
                raise DuplicateClientReference(
                    "client reference was used concurrently by another request"
                ) from None
            # Another request with this key committed between our lookup and our insert.
            raise RequestInFlight(
                f"a request with Idempotency-Key {key!r} completed concurrently; retry to read it"
            ) from None
    return IdempotentResponse(status=status, body=body, replayed=False)


def purge_expired(session: Session, *, now: datetime) -> int:
    """Delete keys past their retention; returns how many."""
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
