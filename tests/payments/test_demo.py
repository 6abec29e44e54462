"""The demo step runs a day of business and leaves the books balanced."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from payments.demo import run_demo

from ..conftest import FakeClock


def test_demo_day_of_business(
    session_factory: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    facts = dict(run_demo(session_factory, now=clock(), out_dir=tmp_path))
    assert facts["ledger check"] == "balanced"
    assert facts["merchant day"].startswith("sales 4,350.50 DZD, voids -850.50 DZD")
    assert Path(facts["statement"]).read_text().startswith("time,operation_id")
    # Run twice on the same database: each run opens its own accounts.
    clock.advance(seconds=1)
    assert dict(run_demo(session_factory, now=clock(), out_dir=tmp_path))["ledger check"] == (
        "balanced"
    )
