"""Reading and verifying the audit log (auditors and admins)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import select

from palmvein.core.audit import AuditEntry, verify_chain
from palmvein.core.security.roles import Role
from palmvein.http.auth import DbSession, Principal, require_roles
from palmvein.http.routing import PrefixRouter

router = PrefixRouter(prefix="/audit", tags=["audit"])
_READERS = (Role.AUDITOR, Role.ADMIN)


class AuditEntryOut(BaseModel):
    seq: int
    recorded_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]
    hash: str


class FindingOut(BaseModel):
    kind: str
    seq: int
    message: str


class ChainReportOut(BaseModel):
    ok: bool
    rows: int
    head_seq: int
    head_hash: str
    findings: list[FindingOut]


@router.get("/entries")
def audit_entries(
    principal: Annotated[Principal, require_roles(*_READERS)],
    session: DbSession,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEntryOut]:
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(limit)
    )
    return [
        AuditEntryOut(
            seq=row.seq,
            recorded_at=row.recorded_at,
            actor=row.actor,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            data=json.loads(row.data),
            hash=row.hash,
        )
        for row in rows
    ]


@router.get("/verify")
def audit_verify(
    principal: Annotated[Principal, require_roles(*_READERS)], session: DbSession
) -> ChainReportOut:
    report = verify_chain(session)
    return ChainReportOut(
        ok=report.ok,
        rows=report.rows,
        head_seq=report.head_seq,
        head_hash=report.head_hash,
        findings=[
            FindingOut(kind=f.kind.value, seq=f.seq, message=f.message) for f in report.findings
        ],
    )
