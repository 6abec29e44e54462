"""The audit log is append-only and its hash chain names every tampered row."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core import audit
from palmvein.core.audit import Anchor, FindingKind, entry_hash, verify_chain

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _write_payslips(db: Session, count: int) -> list[audit.AuditEntry]:
    entries = [
        audit.record(
            db,
            actor="staff:officer",
            action="payslip.issued",
            entity_type="payslip",
            entity_id=str(n),
            data={"employee": n, "net_minor": 4_500_000 + n, "currency": "DZD"},
            at=T0 + timedelta(minutes=n),
        )
        for n in range(1, count + 1)
    ]
    db.commit()
    return entries


def _drop_guards(db: Session, engine: Engine) -> None:
    """What an attacker with DDL rights does first: remove the append-only triggers."""
    # End the test session's transaction: on PostgreSQL its table lock would block the DDL.
    db.rollback()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER audit_log_no_update ON audit_log"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
            connection.execute(text("DROP TRIGGER audit_log_no_delete"))


def _kinds(report: audit.ChainReport) -> list[tuple[FindingKind, int]]:
    return [(f.kind, f.seq) for f in report.findings]


def test_rows_are_numbered_and_chained(db: Session) -> None:
    first, second, third = _write_payslips(db, 3)
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == audit.GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert json.loads(second.data) == {"currency": "DZD", "employee": 2, "net_minor": 4_500_002}


def test_an_untouched_log_verifies(db: Session) -> None:
    entries = _write_payslips(db, 5)
    report = verify_chain(db)
    assert report.ok
    assert (report.rows, report.head_seq, report.head_hash) == (5, 5, entries[-1].hash)


def test_an_empty_log_verifies(db: Session) -> None:
    report = verify_chain(db)
    assert report.ok and report.rows == 0 and report.head_hash == audit.GENESIS_HASH


def test_the_database_refuses_updates_and_deletes(db: Session) -> None:
    _write_payslips(db, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1"))
    db.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    db.rollback()


def test_an_edited_row_is_named(db: Session, db_engine: Engine) -> None:
    _write_payslips(db, 5)
    _drop_guards(db, db_engine)
    with db_engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_log SET data = :data WHERE seq = 3"),
            {"data": '{"currency":"DZD","employee":3,"net_minor":9900000}'},
        )
    report = verify_chain(db)
    assert _kinds(report) == [(FindingKind.EDITED, 3)]
    assert "row 3 was edited" in report.findings[0].message


def test_a_deleted_row_is_named(db: Session, db_engine: Engine) -> None:
    _write_payslips(db, 5)
    _drop_guards(db, db_engine)
    with db_engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    report = verify_chain(db)
    assert _kinds(report) == [(FindingKind.DELETED, 4)]
    assert "rows 3..3 were deleted" in report.findings[0].message


def test_a_deletion_hidden_by_renumbering_is_still_found(db: Session, db_engine: Engine) -> None:
    _write_payslips(db, 4)
    _drop_guards(db, db_engine)
    with db_engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        connection.execute(text("UPDATE audit_log SET seq = seq - 1 WHERE seq > 2"))
    report = verify_chain(db)
    kinds = _kinds(report)
    assert (FindingKind.DELETED, 2) in kinds
    assert (FindingKind.EDITED, 2) in kinds and (FindingKind.EDITED, 3) in kinds


def test_an_inserted_row_is_named(db: Session, db_engine: Engine) -> None:
    entries = _write_payslips(db, 4)
    _drop_guards(db, db_engine)
    # A forged row placed after row 2 with a self-consistent hash; later rows renumbered.
    forged_at = T0 + timedelta(minutes=2, seconds=30)
    forged = {
        "seq": 3,
        "recorded_at": forged_at,
        "actor": "staff:officer",
        "action": "payslip.issued",
        "entity_type": "payslip",
        "entity_id": "99",
        "data": '{"net_minor":1}',
        "prev_hash": entries[1].hash,
    }
    with db_engine.begin() as connection:
        for seq in (4, 3):
            connection.execute(
                text("UPDATE audit_log SET seq = :new WHERE seq = :old"),
                {"new": seq + 1, "old": seq},
            )
        connection.execute(
            text(
                "INSERT INTO audit_log (seq, recorded_at, actor, action, entity_type, entity_id,"
                " data, prev_hash, hash) VALUES (:seq, :recorded_at, :actor, :action,"
                " :entity_type, :entity_id, :data, :prev_hash, :hash)"
            ),
            {**forged, "hash": entry_hash(**forged)},
        )
    report = verify_chain(db)
    kinds = _kinds(report)
    assert (FindingKind.INSERTED, 4) in kinds
    assert any("rows 3..3 were inserted" in f.message for f in report.findings)
    # The renumbered originals no longer match their hashes either.
    assert (FindingKind.EDITED, 4) in kinds and (FindingKind.EDITED, 5) in kinds


def test_a_cut_off_tail_is_found_only_with_an_anchor(db: Session, db_engine: Engine) -> None:
    _write_payslips(db, 5)
    anchor = Anchor(verify_chain(db).head_seq, verify_chain(db).head_hash)
    _drop_guards(db, db_engine)
    with db_engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE seq >= 4"))
    assert verify_chain(db).ok  # a shorter chain is still a valid chain...
    report = verify_chain(db, anchor=anchor)  # ...but not the one recorded earlier
    assert _kinds(report) == [(FindingKind.TRUNCATED, 5)]


def test_anchor_parsing() -> None:
    good = Anchor.parse("12:" + "a" * 64)
    assert good == Anchor(12, "a" * 64)
    with pytest.raises(ValueError, match="SEQ:SHA256HEX"):
        Anchor.parse("12-abc")


def test_floats_are_refused_in_audit_data(db: Session) -> None:
    with pytest.raises(TypeError, match="data.amount holds a float"):
        audit.record(
            db, actor="a", action="b", entity_type="c", entity_id="d", data={"amount": 12.5}
        )


def test_hashes_do_not_depend_on_key_order(db: Session) -> None:
    a = audit.record(
        db, actor="a", action="x", entity_type="t", entity_id="1", data={"b": 1, "a": 2}, at=T0
    )
    assert a.data == '{"a":2,"b":1}'


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.text(min_size=1, max_size=8), st.integers() | st.text(max_size=20), max_size=4
        ),
        min_size=1,
        max_size=8,
    ),
    st.data(),
)
def test_changing_any_stored_field_of_any_row_is_detected(
    payloads: list[dict[str, object]], data: st.DataObject
) -> None:
    # Pure hash-level property, no database: recompute the chain as verify_chain does.
    prev = audit.GENESIS_HASH
    rows = []
    for seq, payload in enumerate(payloads, start=1):
        fields = {
            "seq": seq,
            "recorded_at": T0,
            "actor": "a",
            "action": "act",
            "entity_type": "t",
            "entity_id": str(seq),
            "data": audit.canonical_json(payload),
            "prev_hash": prev,
        }
        prev = entry_hash(**fields)
        rows.append((fields, prev))
    index = data.draw(st.integers(0, len(rows) - 1))
    field = data.draw(st.sampled_from(["actor", "action", "entity_type", "entity_id", "data"]))
    fields, stored = rows[index]
    tampered = {**fields, field: str(fields[field]) + "x"}
    assert entry_hash(**tampered) != stored


def test_concurrent_writers_never_fork_the_chain(
    db_backend: str, session_factory: sessionmaker[Session]
) -> None:
    if db_backend != "postgresql":
        pytest.skip("SQLite serialises writers itself; the advisory lock is PostgreSQL's")
    per_writer = 15

    def writer(name: str) -> None:
        for n in range(per_writer):
            with session_factory.begin() as session:
                audit.record(
                    session, actor=name, action="test.append", entity_type="t", entity_id=str(n)
                )

    threads = [threading.Thread(target=writer, args=(f"writer-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_factory() as session:
        report = verify_chain(session)
    assert report.ok, report.findings
    assert report.rows == 3 * per_writer
