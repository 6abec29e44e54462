"""Append-only, hash-chained audit log.

Each row stores the SHA-256 of its own canonical content, which includes the previous row's hash,
so a row that is edited, inserted or deleted breaks the chain at a place :func:`verify_chain` can
name. The database also refuses UPDATE and DELETE on the table (triggers made by the migration);
the chain is what still catches tampering by someone who can drop those triggers.

A chain on its own cannot reveal that its newest rows were cut off: keep the head (``seq`` and
``hash`` reported by :func:`verify_chain`) somewhere else and pass it back as ``anchor``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from palmvein.core.db import Base, UtcDateTime, utcnow

GENESIS_HASH = "0" * 64
# Rows are read in pages so verifying a long log does not load it into memory at once.
_VERIFY_PAGE = 2000


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    entity_type: Mapped[str] = mapped_column(String(100))
    entity_id: Mapped[str] = mapped_column(String(200))
    data: Mapped[str] = mapped_column(Text())
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(data: Mapping[str, Any]) -> str:
    """Deterministic JSON: sorted keys, no whitespace, ASCII only, floats refused upstream."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def entry_hash(
    *,
    seq: int,
    recorded_at: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    data: str,
    prev_hash: str,
) -> str:
    payload = canonical_json(
        {
            "seq": seq,
            "recorded_at": _timestamp(recorded_at),
            "actor": actor,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "data": data,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


def _reject_floats(value: Any, path: str = "data") -> None:
    # Floats do not round-trip exactly through every JSON parser; amounts are integer minor units.
    if isinstance(value, float):
        raise TypeError(f"audit {path} holds a float; store money as integer minor units or str")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _reject_floats(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _reject_floats(item, f"{path}[{index}]")


def _lock_chain_head(session: Session) -> None:
    # Two writers must not both append after the same head. PostgreSQL: a transaction-scoped
    # advisory lock; SQLite serialises writers itself (and the unique seq catches the rest).
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('palmvein.audit_log'))"))


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one audit row in ``session``'s transaction (the caller's boundary commits)."""
    payload = dict(data or {})
    _reject_floats(payload)
    _lock_chain_head(session)
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    recorded_at = (at or utcnow()).astimezone(UTC)
    data_text = canonical_json(payload)
    entry = AuditEntry(
        seq=seq,
        recorded_at=recorded_at,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        data=data_text,
        prev_hash=prev_hash,
        hash=entry_hash(
            seq=seq,
            recorded_at=recorded_at,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            data=data_text,
            prev_hash=prev_hash,
        ),
    )
    session.add(entry)
    session.flush()
    return entry


class FindingKind(StrEnum):
    EDITED = "edited"
    INSERTED = "inserted"
    DELETED = "deleted"
    TRUNCATED = "truncated"


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    seq: int
    message: str


@dataclass(frozen=True)
class ChainReport:
    rows: int
    head_seq: int
    head_hash: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class Anchor:
    """A (seq, hash) pair of the chain head recorded somewhere outside the database."""

    seq: int
    hash: str

    @classmethod
    def parse(cls, text_value: str) -> Anchor:
        seq_text, sep, hash_text = text_value.partition(":")
        if not sep or not seq_text.isdigit() or len(hash_text) != 64:
            raise ValueError(f"anchor must look like SEQ:SHA256HEX, got {text_value!r}")
        return cls(int(seq_text), hash_text.lower())


@dataclass(frozen=True)
class _StoredEntry:
    seq: int
    recorded_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: str
    prev_hash: str
    hash: str


def _iter_entries(session: Session) -> Iterable[_StoredEntry]:
    # Plain rows rather than ORM objects: the caller's identity map must not fill with the log.
    columns = (
        AuditEntry.seq,
        AuditEntry.recorded_at,
        AuditEntry.actor,
        AuditEntry.action,
        AuditEntry.entity_type,
        AuditEntry.entity_id,
        AuditEntry.data,
        AuditEntry.prev_hash,
        AuditEntry.hash,
    )
    last = 0
    while True:
        page = session.execute(
            select(*columns)
            .where(AuditEntry.seq > last)
            .order_by(AuditEntry.seq)
            .limit(_VERIFY_PAGE)
        ).all()
        if not page:
            return
        for row in page:
            yield _StoredEntry(*row)
        last = page[-1][0]


def verify_chain(session: Session, *, anchor: Anchor | None = None) -> ChainReport:
    """Walk the whole log and report every edited, inserted or deleted row.

    - *edited*: a row's stored hash is not the hash of its content.
    - *deleted*: a row links to a hash no earlier row has (its predecessors are gone); the gap in
      ``seq`` says how many.
    - *inserted*: a row links to an earlier row than its direct predecessor, so the rows in
      between were added afterwards; a row that claims an earlier head also counts.
    - *truncated*: the ``anchor`` row is missing or differs, so rows were removed from the end.
    """
    findings: list[Finding] = []
    seen: dict[str, int] = {GENESIS_HASH: 0}
    prev_seq = 0
    prev_hash = GENESIS_HASH
    rows = 0
    anchor_hash_found: str | None = None
    for entry in _iter_entries(session):
        rows += 1
        recomputed = entry_hash(
            seq=entry.seq,
            recorded_at=entry.recorded_at,
            actor=entry.actor,
            action=entry.action,
            entity_type=entry.entity_type,
            entity_id=entry.entity_id,
            data=entry.data,
            prev_hash=entry.prev_hash,
        )
        if recomputed != entry.hash:
            findings.append(
                Finding(
                    FindingKind.EDITED,
                    entry.seq,
                    f"row {entry.seq} was edited: its content no longer matches its hash",
                )
            )
        if entry.prev_hash != prev_hash:
            linked = seen.get(entry.prev_hash)
            if linked is not None and linked < prev_seq:
                findings.append(
                    Finding(
                        FindingKind.INSERTED,
                        entry.seq,
                        f"rows {linked + 1}..{prev_seq} were inserted: row {entry.seq} links "
                        f"to row {linked}",
                    )
                )
            elif entry.seq > prev_seq + 1:
                findings.append(
                    Finding(
                        FindingKind.DELETED,
                        entry.seq,
                        f"rows {prev_seq + 1}..{entry.seq - 1} were deleted before row {entry.seq}",
                    )
                )
            else:
                findings.append(
                    Finding(
                        FindingKind.DELETED,
                        entry.seq,
                        f"row {entry.seq} links to a row that no longer exists: rows before it "
                        "were deleted or renumbered",
                    )
                )
        elif entry.seq != prev_seq + 1:
            findings.append(
                Finding(
                    FindingKind.EDITED,
                    entry.seq,
                    f"row {entry.seq} follows row {prev_seq} but its number was changed",
                )
            )
        if anchor is not None and entry.seq == anchor.seq:
            anchor_hash_found = entry.hash
        seen[entry.hash] = entry.seq
        prev_seq, prev_hash = entry.seq, entry.hash
    if anchor is not None and anchor_hash_found != anchor.hash:
        what = "is missing" if anchor_hash_found is None else "has a different hash"
        findings.append(
            Finding(
                FindingKind.TRUNCATED,
                anchor.seq,
                f"anchored row {anchor.seq} {what}: the end of the log was cut or rewritten",
            )
        )
    return ChainReport(rows=rows, head_seq=prev_seq, head_hash=prev_hash, findings=findings)


def count_entries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0
