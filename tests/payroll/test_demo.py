"""The payroll month of ``palmvein demo`` runs and repeats on the same database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from payroll.demo import run_demo


def test_demo_month_twice(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    now = datetime(2026, 3, 25, 9, 0, tzinfo=UTC)
    first = dict(run_demo(session_factory, now=now, out_dir=tmp_path))
    second = dict(run_demo(session_factory, now=now, out_dir=tmp_path))
    for facts in (first, second):
        assert facts["faulty file"].startswith("refused whole, 3 problems")
        assert facts["maker-checker"].startswith("refused for the officer who submitted")
        assert facts["ledger check"] == "balanced"
    assert "run 1 (2026-01) preview" in first and "run 2 (2026-02) preview" in second
    assert first["employee file"].startswith("12 imported (D001-")
    assert second["employee file"].startswith("12 imported (D002-")
    # No palm was enrolled in this database: nobody to release to, everyone never enrolled.
    assert first["never enrolled"] == "12 employees"
    # Rows 1, 3, ... 9 of each file have an account (row 11 is suspended); run 2 pays both files.
    assert first["bank transfer file"].startswith("5 salaries")
    assert second["bank transfer file"].startswith("10 salaries")
    for facts in (first, second):
        assert facts["bank transfer file"].endswith("(pain.001 and CSV; produced again: 0 booked)")
    assert first["posted"].startswith("11 salaries")  # the suspended employee is not paid
    assert second["posted"].startswith("22 salaries")  # 11 active of each file
