"""Pay-point page: a salary is released only to the employee's own palm (identified 1:N through
the API's identification path), refusals say why and are counted, a double click releases once,
and a supervisor releases by hand after repeated refusals, with a written reason."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from enrollment_ui.config import PagesConfig
from palmvein.core.db import unit_of_work
from palmvein.core.security.roles import Role
from payroll import jobs, runs, sample, service
from payroll.models import AttemptOutcome, Release, ReleaseAttempt

from .test_pages import capture, enrol, new_person, scanner, sign_in

PAY_POINT = "PP-ALGER-01"


@dataclass(frozen=True)
class Decision:
    outcome: str
    subject_id: str | None
    score: float = 0.4
    threshold: float = 0.61


def payroll_month(factory: sessionmaker[Session], folder: Path, clock: Any,
                  subjects: list[str | None], period: str = "2026-03") -> list[str]:
    """Employees linked to ``subjects`` (paid in cash at PAY_POINT), a run approved by a second person
    and posted: each salary is held. Returns the employee numbers."""
    rows = sample.employee_rows(len(subjects), seed=3, subject_ids=subjects)
    for row in rows:  # no bank account: paid at the pay point
        row.update(pay_point=PAY_POINT, account_scheme="", account_number="")
    with unit_of_work(factory) as session:
        service.add_structure(session, grade="G12", currency="DZD",
                              effective_from=sample.ALGERIA_FROM,
                              definition=sample.algeria_structure(), actor="t", now=clock())
        service.import_file(session, sample.write_csv(folder / "staff.csv", rows),
                            currency="DZD", actor="t", now=clock())
        run_id = runs.open_run(session, period=period, currency="DZD", actor="staff:o",
                               now=clock()).id
        runs.compute_run(session, run_id, actor="staff:o", now=clock())
        runs.submit_run(session, run_id, actor="staff:o", now=clock())
        runs.approve_run(session, run_id, actor="staff:a", now=clock())
    jobs.post_run(factory, run_id, actor="staff:a", now=clock)
    return [row["employee_number"] for row in rows]


@pytest.fixture
def desk(app: FastAPI) -> None:
    app.state.pages_config = PagesConfig(cashier_pay_points={
        "cashier": PAY_POINT, "chief": PAY_POINT, "far": "PP-BLIDA-01"})


def _form(page: str) -> dict[str, str]:
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key is not None
    return {"idempotency_key": key.group(1)}


def claim(client: TestClient, headers: dict[str, str], number: str, uri: str,
          channel: str = "cash") -> Any:
    """Claim with a fresh capture; a capture too poor to compare is placed again."""
    for _attempt in range(4):
        response = client.post("/ui/paypoint/claims", headers=headers, data={
            "idempotency_key": str(uuid.uuid4()), "employee_number": number,
            "channel": channel, "scanner": uri})
        if "place it again" not in response.text:
            return response
    return response


def test_only_the_employees_own_palm_releases_the_salary(
        client: TestClient, make_staff: Callable[..., int], desk: None, db: Session,
        session_factory: sessionmaker[Session], tmp_path: Path, clock: Any) -> None:
    make_staff("clerk", Role.HR_CLERK)
    make_staff("cashier", Role.MERCHANT_CASHIER)
    make_staff("lost", Role.MERCHANT_CASHIER)
    clerk = sign_in(client, "clerk")
    owner, colleague = new_person(client, clerk, "Owner"), new_person(client, clerk, "Colleague")
    for person, identity in ((owner, 41), (colleague, 42)):
        assert enrol(client, clerk, person, capture(client, clerk, person, scanner(identity))
                     ).status_code == 200
    first, _second = payroll_month(session_factory, tmp_path, clock, [owner, colleague])
    client.cookies.clear()
    cashier = sign_in(client, "cashier")  # home: the pay point (no merchant assigned)
    page = client.get("/ui/paypoint")
    assert page.status_code == 200 and PAY_POINT in page.text
    assert 'href="/ui/paypoint"' in page.text and 'href="/ui/counter"' not in page.text
    card = client.get("/ui/paypoint/employee", params={"employee_number": first})
    assert "Waiting to be released" in card.text and "2026-03" in card.text

    refused = claim(client, cashier, first, scanner(42, 1))  # the colleague's palm
    assert refused.status_code == 422, refused.text
    assert "Not released: this palm does not belong to the employee claimed" in refused.text
    assert "Refused palm attempts since the last release: 1." in refused.text
    assert db.scalar(select(func.count()).select_from(Release)) == 0

    key = str(uuid.uuid4())
    own = {"idempotency_key": key, "employee_number": first, "channel": "cash",
           "scanner": scanner(41, 1)}
    released = client.post("/ui/paypoint/claims", data=own, headers=cashier)
    for _attempt in range(3):  # a capture too poor to compare is not an attempt: place again
        if "place it again" not in released.text:
            break
        own["idempotency_key"] = key = str(uuid.uuid4())
        released = client.post("/ui/paypoint/claims", data=own, headers=cashier)
    assert released.status_code == 200, released.text
    assert "Salary released" in released.text and "in cash" in released.text
    assert _form(released.text)["idempotency_key"] != key  # a new key for the next claim
    again = client.post("/ui/paypoint/claims", data=own, headers=cashier)  # double click
    assert again.status_code == 200 and "Salary released" in again.text
    assert db.scalar(select(func.count()).select_from(Release)) == 1
    outcomes = db.scalars(select(ReleaseAttempt.outcome).order_by(ReleaseAttempt.id)).all()
    assert outcomes == [AttemptOutcome.WRONG_PERSON.value, AttemptOutcome.RELEASED.value]
    assert db.scalar(select(ReleaseAttempt.pay_point)) == PAY_POINT
    nothing = claim(client, cashier, first, scanner(41, 2))
    assert nothing.status_code == 422
    assert "no salary is waiting for this employee" in nothing.text

    unknown = client.post("/ui/paypoint/claims", headers=cashier, data={
        "idempotency_key": str(uuid.uuid4()), "employee_number": "NOBODY",
        "scanner": scanner(41, 3)})
    assert unknown.status_code == 404 and "no employee" in unknown.text
    client.cookies.clear()
    sign_in(client, "lost")  # a cashier with no pay point assigned
    lost = client.get("/ui/paypoint")
    assert lost.status_code == 404 and "not assigned to a pay point" in lost.text


def test_a_supervisor_releases_by_hand_after_repeated_refusals(
        app: FastAPI, client: TestClient, make_staff: Callable[..., int], desk: None,
        db: Session, session_factory: sessionmaker[Session], tmp_path: Path,
        clock: Any) -> None:
    make_staff("clerk", Role.HR_CLERK)
    make_staff("cashier", Role.MERCHANT_CASHIER)
    make_staff("chief", Role.PAYROLL_APPROVER)
    make_staff("far", Role.PAYROLL_APPROVER)
    clerk = sign_in(client, "clerk")
    scarred = new_person(client, clerk, "Scarred Palm")
    (number,) = payroll_month(session_factory, tmp_path, clock, [scarred])
    # The matcher's decision is scripted: this palm is never recognised.
    app.state.identify_override = lambda session, image, purpose: Decision("no_match", None)
    client.cookies.clear()
    cashier = sign_in(client, "cashier")
    for count in (1, 2):
        response = claim(client, cashier, number, scanner(43))
        assert response.status_code == 422
        assert f"Refused palm attempts since the last release: {count}." in response.text
    # An uploaded image goes the same way; a file that is not an image is not an attempt.
    app.state.identify_override = None
    junk = client.post("/ui/paypoint/claims", headers=cashier, data={
        "idempotency_key": str(uuid.uuid4()), "employee_number": number},
        files={"image": ("palm.png", b"junk", "image/png")})
    assert junk.status_code == 422 and "cannot be read" in junk.text
    app.state.identify_override = lambda session, image, purpose: Decision("no_match", None)
    response = client.post("/ui/paypoint/claims", headers=cashier, data={
        "idempotency_key": str(uuid.uuid4()), "employee_number": number},
        files={"image": ("palm.png", b"\x89PNG scripted", "image/png")})
    assert response.status_code == 422
    assert "Refused palm attempts since the last release: 3." in response.text
    assert "may now release by hand" in response.text
    assert 'hx-post="/ui/paypoint/manual-releases"' not in response.text  # cashiers cannot
    refused = client.post("/ui/paypoint/manual-releases", headers=cashier, data={
        "employee_number": number, "reason": "palm scarred at work"})
    assert refused.status_code == 403

    client.cookies.clear()
    chief = sign_in(client, "chief")
    page = client.get("/ui/paypoint", params={"employee": number})
    assert page.status_code == 200 and "Release a salary" in page.text
    assert 'hx-post="/ui/paypoint/claims"' in page.text  # the form; its palm button is cashiers'
    card = client.get("/ui/paypoint/employee", params={"employee_number": number})
    assert 'hx-post="/ui/paypoint/manual-releases"' in card.text
    short = client.post("/ui/paypoint/manual-releases", headers=chief, data={
        "employee_number": number, "reason": "scar"})
    assert short.status_code == 422 and "at least 10 characters" in short.text
    done = client.post("/ui/paypoint/manual-releases", headers=chief, data={
        "employee_number": number, "channel": "cash", "reason": "palm scarred at work"})
    assert done.status_code == 200, done.text
    assert "Released by hand" in done.text and "palm scarred at work" in done.text
    release = db.scalars(select(Release)).one()
    assert release.supervisor_override_reason == "palm scarred at work"
    assert release.released_by == "chief" and release.device_id == "page:chief"
    assert client.post("/ui/paypoint/manual-releases", headers=chief, data={
        "employee_number": number, "reason": "palm scarred at work"}).status_code == 403

    # Cash is handed over only at the employee's own pay point.
    client.cookies.clear()
    sign_in(client, "far")
    card = client.get("/ui/paypoint/employee", params={"employee_number": number})
    assert "another pay point" in card.text
