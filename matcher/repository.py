"""The template store and the enrolment change log, and an index that follows them.

Functions here take a :class:`~sqlalchemy.orm.Session` and never commit: the caller's unit of
work does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import biometric
from matcher.crypto import Keyring, Sealed
from matcher.errors import SnapshotError
from matcher.index import DEFAULT_SHORTLIST, PalmIndex
from matcher.models import Change, ChangeKind, SiteCalibration, StoredTemplate
from matcher.snapshot import load_snapshot, write_snapshot

_BATCH = 1000


def _associated(person_id: str, hand: str, algorithm: str) -> bytes:
    # Binds a ciphertext to its owner, hand and algorithm: copied into another row, it fails.
    return f"palmvein-template|{person_id}|{hand}|{algorithm}".encode()


def lock_change_log(session: Session) -> None:
    """Serialise writers of the change log until the transaction ends.

    PostgreSQL hands out sequence values when rows are inserted, not when they commit, so two
    concurrent enrolments could commit ``seq`` 11 before 10 and a follower that already saw 11
    would skip 10. Holding a transaction-scoped advisory lock from the first insert to the commit
    makes numbers visible in order. SQLite serialises writers by itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('palmvein.bio_changes'))"))


def store_template(
    session: Session, keyring: Keyring, person_id: str, hand: str, template: biometric.Template
) -> StoredTemplate:
    """Encrypt and insert one template and its ``add`` change."""
    lock_change_log(session)
    sealed = keyring.seal(template.to_bytes(), _associated(person_id, hand, template.algorithm))
    row = StoredTemplate(person_id=person_id, hand=hand, algorithm=template.algorithm,
                         key_id=sealed.key_id, nonce=sealed.nonce, ciphertext=sealed.ciphertext)
    session.add(row)
    session.flush()
    session.add(Change(kind=ChangeKind.ADD.value, person_id=person_id, template_id=row.id))
    session.flush()
    return row


def delete_templates(session: Session, person_id: str) -> int:
    """Delete every template of ``person_id`` and log a ``remove`` change for each."""
    lock_change_log(session)
    rows = session.scalars(
        select(StoredTemplate).where(StoredTemplate.person_id == person_id)
    ).all()
    for row in rows:
        session.add(Change(kind=ChangeKind.REMOVE.value, person_id=person_id, template_id=row.id))
        session.delete(row)
    session.flush()
    return len(rows)


def decrypt(keyring: Keyring, row: StoredTemplate) -> biometric.Template:
    """The template of a stored row (authenticated against its owner, hand and algorithm)."""
    plain = keyring.open(Sealed(row.key_id, row.nonce, row.ciphertext),
                         _associated(row.person_id, row.hand, row.algorithm))
    return biometric.Template.from_bytes(plain)


def person_templates(
    session: Session, keyring: Keyring, person_id: str
) -> list[tuple[StoredTemplate, biometric.Template]]:
    rows = session.scalars(
        select(StoredTemplate).where(StoredTemplate.person_id == person_id)
        .order_by(StoredTemplate.id)
    ).all()
    return [(row, decrypt(keyring, row)) for row in rows]


def iter_templates(
    session: Session, keyring: Keyring, algorithm: str, batch: int = _BATCH
) -> Iterator[tuple[int, str, biometric.Template]]:
    """(template id, person id, template) of every stored template of ``algorithm``, by id."""
    last = 0
    while True:
        rows = session.scalars(
            select(StoredTemplate)
            .where(StoredTemplate.id > last, StoredTemplate.algorithm == algorithm)
            .order_by(StoredTemplate.id).limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield row.id, row.person_id, decrypt(keyring, row)
        last = rows[-1].id


def hands_sample(
    session: Session, keyring: Keyring, algorithm: str, limit: int, seed: int = 0
) -> list[tuple[str, biometric.Template]]:
    """(person id, template) of one template per enrolled hand (its first stored), at most
    ``limit`` hands drawn at random with ``seed``, in id order."""
    firsts = sorted(session.scalars(
        select(func.min(StoredTemplate.id)).where(StoredTemplate.algorithm == algorithm)
        .group_by(StoredTemplate.person_id, StoredTemplate.hand)
    ).all())
    if len(firsts) > limit:
        rng = np.random.default_rng(seed)
        firsts = sorted(int(i) for i in rng.choice(firsts, size=limit, replace=False))
    out: list[tuple[str, biometric.Template]] = []
    for start in range(0, len(firsts), _BATCH):
        rows = session.scalars(
            select(StoredTemplate).where(StoredTemplate.id.in_(firsts[start:start + _BATCH]))
            .order_by(StoredTemplate.id)
        ).all()
        out += [(row.person_id, decrypt(keyring, row)) for row in rows]
    return out


def latest_calibration_id(session: Session, algorithm: str, comparator: str) -> int | None:
    """Id of the newest site calibration of ``algorithm`` made with ``comparator``, if any (the id
    alone: decisions ask on every request, and the distribution behind it never changes)."""
    return session.scalar(
        select(func.max(SiteCalibration.id))
        .where(SiteCalibration.algorithm == algorithm, SiteCalibration.comparator == comparator)
    )


def calibration(session: Session, calibration_id: int) -> SiteCalibration:
    """A stored site calibration by id."""
    row = session.get(SiteCalibration, calibration_id)
    if row is None:
        raise LookupError(f"no site calibration {calibration_id}")
    return row


def last_change(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(Change.seq), 0))) or 0)


def rotate_batch(session: Session, keyring: Keyring, batch: int = 500) -> int:
    """Re-encrypt up to ``batch`` templates not sealed by the active key; return how many.

    Call repeatedly, committing after each call, until it returns 0: each batch is a short
    transaction, so enrolment and identification continue meanwhile (old keys stay readable).
    """
    rows = session.scalars(
        select(StoredTemplate).where(StoredTemplate.key_id != keyring.active)
        .order_by(StoredTemplate.id).limit(batch).with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        aad = _associated(row.person_id, row.hand, row.algorithm)
        sealed = keyring.seal(keyring.open(Sealed(row.key_id, row.nonce, row.ciphertext), aad),
                              aad)
        row.key_id, row.nonce, row.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
    session.flush()
    return len(rows)


def count_by_key(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(StoredTemplate.key_id, func.count()).group_by(StoredTemplate.key_id)
    ).all()
    return {str(k): int(n) for k, n in rows}


@dataclass
class SyncReport:
    applied: int
    sequence: int


class IndexFollower:
    """An in-memory :class:`PalmIndex` kept in step with the database.

    :meth:`start` loads a verified snapshot when there is one (else rebuilds from the template
    store); :meth:`catch_up` applies the changes logged since. Applying is idempotent (adding a
    template already present or removing one already gone does nothing), so overlapping a rebuild
    with changes committed meanwhile is harmless.
    """

    def __init__(self, keyring: Keyring, *, algorithm: str | None = None,
                 snapshot_path: Path | None = None, shortlist: int | None = None,
                 shards: int = 2) -> None:
        self.keyring = keyring
        self.algorithm = algorithm or biometric.ALGORITHM
        self.snapshot_path = snapshot_path
        self._shortlist = shortlist or DEFAULT_SHORTLIST
        self._shards = shards
        self.index = self._new_index()
        self.sequence = 0
        self.snapshot_refused: str | None = None
        # Request threads catch up concurrently; changes must be applied once and in order.
        self._lock = threading.Lock()

    def start(self, session: Session) -> SyncReport:
        """Load the snapshot (if valid) or rebuild from the database, then catch up."""
        with self._lock:
            self._load(session)
        return self.catch_up(session)

    def _load(self, session: Session) -> None:
        if self.snapshot_path is not None and self.snapshot_path.exists():
            try:
                self.index, self.sequence = load_snapshot(
                    self.snapshot_path, self.keyring, shortlist=self._shortlist,
                    shards=self._shards)
            except SnapshotError as exc:
                self.snapshot_refused = str(exc)
                self._rebuild(session)
        else:
            self._rebuild(session)

    def rebuild(self, session: Session) -> None:
        """Fill a fresh index from every stored template."""
        with self._lock:
            self._rebuild(session)

    def _rebuild(self, session: Session) -> None:
        sequence = last_change(session)
        index = self._new_index()
        for template_id, person_id, template in iter_templates(session, self.keyring,
                                                               self.algorithm):
            index.add(person_id, template, key=template_id)
        self.index, self.sequence = index, sequence

    def _new_index(self) -> PalmIndex:
        return PalmIndex(algorithm=self.algorithm, shortlist=self._shortlist, shards=self._shards)

    def catch_up(self, session: Session) -> SyncReport:
        """Apply the changes logged after :attr:`sequence`."""
        with self._lock:
            return self._catch_up(session)

    def _catch_up(self, session: Session) -> SyncReport:
        applied = 0
        while True:
            changes = session.scalars(
                select(Change).where(Change.seq > self.sequence).order_by(Change.seq)
                .limit(_BATCH)
            ).all()
            if not changes:
                return SyncReport(applied, self.sequence)
            for change in changes:
                applied += self._apply(session, change)
                self.sequence = change.seq

    def _apply(self, session: Session, change: Change) -> int:
        if change.kind == ChangeKind.REMOVE.value:
            return int(self.index.remove_template(change.template_id))
        if self.index.has_template(change.template_id):
            return 0
        row = session.get(StoredTemplate, change.template_id)
        if row is None or row.algorithm != self.algorithm:
            return 0  # deleted since, or made by another algorithm version
        self.index.add(row.person_id, decrypt(self.keyring, row), key=row.id)
        return 1

    def snapshot(self) -> int:
        """Write the index to :attr:`snapshot_path`; return the file size."""
        if self.snapshot_path is None:
            raise SnapshotError("no snapshot path configured")
        with self._lock:
            return write_snapshot(self.snapshot_path, self.index, self.sequence, self.keyring)
