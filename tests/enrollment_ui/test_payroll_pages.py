"""Payroll office pages: a run is opened, previewed with its problems, submitted by one officer,
approved by a different person (the submitter is refused) and posted, all through payroll.runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import unit_of_work
from palmvein.core.security.roles import Role
from payroll import sample, service

from .test_pages import sign_in


def _employees(factory: sessionmaker[Session], folder: Path, clock: Any) -> None:
    with unit_of_work(factory) as session:
        service.add_structure(session, grade="G12", currency="DZD",
                              effective_from=sample.ALGERIA_FROM,
                              definition=sample.algeria_structure(), actor="t", now=clock())
        path = sample.write_csv(folder / "staff.csv", sample.employee_rows(4))
        service.import_file(session, path, currency="DZD", actor="t", now=clock())


def test_a_run_needs_a_second_person_to_approve_it(
        client: TestClient, make_staff: Callable[..., int], session_factory: Any,
        tmp_path: Path, clock: Any) -> None:
    _employees(session_factory, tmp_path, clock)
    make_staff("officer", Role.PAYROLL_OFFICER, Role.PAYROLL_APPROVER)
    make_staff("approver", Role.PAYROLL_APPROVER)
    make_staff("auditor", Role.AUDITOR)
    officer = sign_in(client, "officer")
    response = client.post("/ui/payroll/runs", data={"period": "2026-03", "currency": "dzd"},
                           headers=officer)
    run = str(response.headers["hx-redirect"])
    assert client.post(f"{run}/compute", headers=officer).status_code == 204
    page = client.get(run).text
    assert "Employees</dt><dd>4" in page
    # Not enrolled palms are listed as problems but do not block payment.
    assert "not_enrolled" in page and "Submit for approval" in page
    assert client.post(f"{run}/submit", headers=officer).status_code == 204
    refused = client.post(f"{run}/approve", headers=officer)
    assert refused.status_code == 403 and "cannot approve" in refused.text
    client.cookies.clear()
    approver = sign_in(client, "approver")
    assert client.post(f"{run}/approve", headers=approver).status_code == 204
    assert client.post(f"{run}/post", headers=approver).status_code == 204
    page = client.get(run).text
    assert "posted" in page and "<progress" in page
    client.cookies.clear()
    sign_in(client, "auditor")
    page = client.get(run).text
    assert page.count("hx-post=") == 1  # only "sign out": auditors read
