"""Salary release at a pay point: the employee's own palm, exactly once, every attempt on record."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import unit_of_work
from palmvein.core.errors import ValidationFailed
from payments import ledger
from payroll import paypoint
from payroll.models import AttemptOutcome, Employee, Release, ReleaseAttempt, ReleaseChannel
from payroll.paypoint import NotEnoughFailedAttempts, claim_salary, manual_release

from .conftest import Office
from .test_release_and_reports import payment_of, posted  # noqa: F401  (fixture)


@dataclass(frozen=True)
class Palm:
    """A matcher decision as the counter receives it."""

    outcome: str
    subject_id: str | None
    score: float = 0.70
    threshold: float = 0.61


def pay_point_of(office: Office, number: str) -> str:
    employee = office.session.scalars(
        select(Employee).where(Employee.employee_number == number)
    ).one()
    return employee.pay_point


def claim(office: Office, number: str, palm: Palm, channel: ReleaseChannel = ReleaseChannel.CASH,
          pay_point: str | None = None) -> paypoint.PayPointResult:  # fmt: skip
    result = claim_salary(
        office.session,
        employee_number=number,
        decision=palm,
        channel=channel,
        device_id="pp-device-1",
        pay_point=pay_point or pay_point_of(office, number),
        cashier="cashier.amel",
        now=office.now,
    )
    office.session.commit()
    return result


def attempts(office: Office) -> list[tuple[str, int]]:
    rows = office.session.execute(
        select(ReleaseAttempt.outcome, ReleaseAttempt.releases).order_by(ReleaseAttempt.id)
    )
    return [(outcome, releases) for outcome, releases in rows]


def test_the_employees_own_palm_releases_the_salary_to_the_wallet_once(
    office: Office,
    posted: int,  # noqa: F811
) -> None:
    result = claim(office, "E000001", Palm("match", "subj-1"), ReleaseChannel.WALLET)
    assert result.outcome == AttemptOutcome.RELEASED and result.reason is None
    assert [r.amount for r in result.released] == [3_663_785]
    wallet = ledger.find_account(office.session, owner_type="person", owner_id="subj-1",
                                 kind=ledger.AccountKind.WALLET, currency="DZD")  # fmt: skip
    assert wallet is not None
    assert ledger.balance_of(office.session, wallet.id).ledger.minor == 3_663_785

    again = claim(office, "E000001", Palm("match", "subj-1"), ReleaseChannel.WALLET)
    assert again.outcome == AttemptOutcome.NOTHING_HELD and again.released == ()
    assert ledger.balance_of(office.session, wallet.id).ledger.minor == 3_663_785
    assert attempts(office) == [("released", 1), ("nothing_held", 0)]
    assert ledger.verify_ledger(office.session) == []


def test_a_colleagues_palm_is_refused_and_recorded(office: Office, posted: int) -> None:  # noqa: F811
    held_before = ledger.balance_of(office.session, payment_of(office, "E000002").net_account_id)
    result = claim(office, "E000002", Palm("match", "subj-1", score=0.72))
    assert result.outcome == AttemptOutcome.WRONG_PERSON
    assert "does not belong" in (result.reason or "")
    assert result.released == ()
    held_after = ledger.balance_of(office.session, payment_of(office, "E000002").net_account_id)
    assert held_after == held_before
    row = office.session.scalars(select(ReleaseAttempt)).one()
    assert (row.matched_subject_id, row.score, row.threshold) == ("subj-1", "0.7200", "0.6100")


def test_an_employee_without_an_enrolled_palm_is_sent_to_hr(
    office: Office,
    posted: int,  # noqa: F811
) -> None:
    # E000003 was imported without a palm (see four_employees).
    result = claim(office, "E000003", Palm("match", "subj-1"))
    assert result.outcome == AttemptOutcome.NOT_ENROLLED
    assert "send them to HR" in (result.reason or "") and result.released == ()


def test_cash_only_at_the_employees_own_pay_point(office: Office, posted: int) -> None:  # noqa: F811
    result = claim(office, "E000001", Palm("match", "subj-1"), pay_point="ELSEWHERE-99")
    assert result.outcome == AttemptOutcome.WRONG_PAY_POINT and result.released == ()
    # The wallet is not tied to a place.
    result = claim(office, "E000001", Palm("match", "subj-1"), ReleaseChannel.WALLET,
                   pay_point="ELSEWHERE-99")  # fmt: skip
    assert result.outcome == AttemptOutcome.RELEASED


def test_three_refused_palms_then_a_supervisor_may_release_with_a_reason(
    office: Office,
    posted: int,  # noqa: F811
) -> None:
    def supervisor(reason: str) -> list[Release]:
        released = manual_release(
            office.session, employee_number="E000001", supervisor="supervisor.karim",
            reason=reason, channel=ReleaseChannel.CASH, device_id="pp-device-1",
            pay_point=pay_point_of(office, "E000001"), now=office.now,
        )  # fmt: skip
        office.session.commit()
        return released

    for outcome in ("no_match", "ambiguous"):
        result = claim(
            office, "E000001", Palm(outcome, "subj-1" if outcome == "ambiguous" else None)
        )
        assert not result.manual_release_allowed
    with pytest.raises(NotEnoughFailedAttempts, match="2 refused palm attempt"):
        supervisor("worn fingertips")
    office.session.rollback()
    third = claim(office, "E000001", Palm("no_match", None, score=0.55))
    assert third.failed_attempts == 3 and third.manual_release_allowed
    with pytest.raises(ValidationFailed, match="reason"):
        supervisor("  ")
    office.session.rollback()
    [release] = supervisor("burn scar on the right palm; identity checked on the national card")
    assert release.supervisor_override_reason.startswith("burn scar")
    assert release.released_by == "supervisor.karim"
    assert attempts(office) == [("no_match", 0), ("ambiguous", 0), ("no_match", 0)]
    # The counter starts again after a release.
    assert paypoint.failed_attempts(office.session, release.employee_id) == 0


def test_two_counters_releasing_one_salary_at_once_pay_it_once(
    office: Office,
    posted: int,  # noqa: F811
    session_factory: sessionmaker[Session],
    db_backend: str,
) -> None:
    if db_backend != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite serialises on its file lock")
    where = pay_point_of(office, "E000001")
    office.session.close()
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def counter(n: int) -> None:
        barrier.wait()
        with unit_of_work(session_factory) as session:
            result = claim_salary(
                session, employee_number="E000001", decision=Palm("match", "subj-1"),
                channel=ReleaseChannel.CASH, device_id=f"pp-{n}", pay_point=where,
                cashier=f"cashier-{n}", now=office.now,
            )  # fmt: skip
            outcomes.append(result.outcome.value)

    threads = [threading.Thread(target=counter, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["nothing_held"] * 5 + ["released"]
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Release)) == 1
        assert s.scalar(select(func.count()).select_from(ReleaseAttempt)) == 6
        assert ledger.verify_ledger(s) == []
