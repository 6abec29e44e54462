"""Tables of the matcher: persons (palm owners), encrypted templates, the enrolment change log,
duplicate cases.

* ``bio_templates`` hold AES-GCM ciphertexts only (:mod:`matcher.crypto`), with the id of the key
  that sealed them; raw images are never stored.
* ``bio_changes`` is the enrolment sequence: one row per template added or removed, numbered by a
  monotonically increasing ``seq``. API workers apply the rows after the last ``seq`` they saw to
  their in-memory index, so every worker converges on the database. Writers serialise on the log
  (:func:`matcher.repository.lock_change_log`) so sequence numbers become visible in order.
* A deleted person keeps a row (``deleted_at`` set) so audit entries still resolve; their
  templates are deleted.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from palmvein.core.db import Base, UtcDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Hand(StrEnum):
    LEFT = "left"
    RIGHT = "right"


class ChangeKind(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class CaseStatus(StrEnum):
    OPEN = "open"
    CONFIRMED_DUPLICATE = "confirmed_duplicate"
    DISMISSED = "dismissed"


class Person(Base):
    """A palm owner; ``id`` is the subject id the index returns."""

    __tablename__ = "bio_persons"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    enrolled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class StoredTemplate(Base):
    """One enrolled sample's template, encrypted."""

    __tablename__ = "bio_templates"
    __table_args__ = (CheckConstraint("hand IN ('left', 'right')", name="hand"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("bio_persons.id"), index=True)
    hand: Mapped[str] = mapped_column(String(5))
    algorithm: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(40), index=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Change(Base):
    """An entry of the enrolment sequence."""

    __tablename__ = "bio_changes"
    __table_args__ = (CheckConstraint("kind IN ('add', 'remove')", name="kind"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    person_id: Mapped[str] = mapped_column(String(36), index=True)
    template_id: Mapped[int] = mapped_column(BigInteger())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class DuplicateCase(Base):
    """An enrolment stopped because the palm matched another enrolled person."""

    __tablename__ = "bio_duplicate_cases"
    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'confirmed_duplicate', 'dismissed')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("bio_persons.id"), index=True)
    matched_person_id: Mapped[str] = mapped_column(ForeignKey("bio_persons.id"))
    hand: Mapped[str] = mapped_column(String(5))
    score: Mapped[float] = mapped_column(Float())
    threshold: Mapped[float] = mapped_column(Float())
    status: Mapped[str] = mapped_column(String(30), default=CaseStatus.OPEN.value)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    opened_by: Mapped[str] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolution_note: Mapped[str | None] = mapped_column(Text())


class SiteCalibration(Base):
    """Impostor scores measured between the palms enrolled here (:class:`matcher.calibration.Calibration`).

    Rows are only added: a decision's threshold can be traced to the calibration in force then.
    The newest row of the current algorithm and comparator is the one used.
    """

    __tablename__ = "bio_calibrations"
    __table_args__ = (
        CheckConstraint("owners >= 2 AND templates >= owners AND pairs >= 1", name="counts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    algorithm: Mapped[str] = mapped_column(String(40))
    comparator: Mapped[str] = mapped_column(String(100))
    owners: Mapped[int] = mapped_column(Integer())
    templates: Mapped[int] = mapped_column(Integer())
    pairs: Mapped[int] = mapped_column(BigInteger())
    distribution: Mapped[str] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
