"""Payroll office pages: a run is opened, previewed with its problems, submitted by one officer,
approved by a different person (the submitter is refused) and posted, all through payroll.runs."""

from __future__ import annotations

import re
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
    # The preview's documents are there before approval; the bank files wait for posting.
    assert "All payslips (PDF)" in page and "bank.csv" not in page
    preview = client.get(f"{run}/register.csv")
    assert preview.status_code == 200 and preview.headers["content-type"].startswith("text/csv")
    assert "-preview.csv" in preview.headers["content-disposition"]
    assert client.get(f"{run}/bank.csv").status_code == 409
    assert client.post(f"{run}/submit", headers=officer).status_code == 204
    refused = client.post(f"{run}/approve", headers=officer)
    assert refused.status_code == 403 and "cannot approve" in refused.text
    client.cookies.clear()
    approver = sign_in(client, "approver")
    assert client.post(f"{run}/approve", headers=approver).status_code == 204
    assert client.post(f"{run}/post", headers=approver).status_code == 204
    page = client.get(run).text
    assert "posted" in page and "<progress" in page
    # The bank file is produced once (it books the bank salaries as transferred), then offered.
    assert f'href="{run}/bank.csv"' not in page and "Produce the bank file (CSV)" in page
    assert client.get(f"{run}/bank.csv").status_code == 409
    # An unknown format is refused with the reason, before anything is booked (it used to
    # produce a CSV and pay the bank salaries).
    for wrong in ("xls", "CSV", "", "pain001.xml" * 10):
        refused = client.post(f"{run}/bank-file", data={"file_format": wrong}, headers=approver)
        assert refused.status_code == 422, refused.text
        assert refused.headers["hx-retarget"] == "#messages"
        assert "Please check what you entered" in refused.text
        assert f"unknown bank file format &#39;{wrong[:20]}&#39;: choose one of csv, pain001" \
            in refused.text
    assert client.get(f"{run}/bank.csv").status_code == 409
    page = client.get(run).text
    assert "Produce the bank file (CSV)" in page and "Transferred by the bank file: 0" in page
    produced = client.post(f"{run}/bank-file", data={"file_format": "csv"}, headers=approver)
    assert produced.status_code == 204, produced.text
    page = client.get(run).text
    assert f'href="{run}/bank.csv"' in page and f'href="{run}/pain001.xml"' in page
    assert "Produce the bank file" not in page
    assert re.search(r"Transferred by the bank file: [1-9]\d* · DZD\xa0?[1-9][\d,]*\.\d\d<", page)
    assert re.search(r"0 waiting for the bank file · DZD\xa0?0\.00<", page)
    client.cookies.clear()
    sign_in(client, "auditor")
    page = client.get(run).text
    # Only "sign out" and the language switcher (their own preference): auditors read.
    assert re.findall(r'hx-post="([^"?]+)', page) == ["/ui/language/ar", "/ui/language/fr",
                                                     "/ui/language/en", "/ui/logout"]
    # Any payroll reader downloads the documents, PDFs in the page's language.
    client.cookies.set("palmvein_lang", "ar")
    slips = client.get(f"{run}/payslips.pdf")
    assert slips.status_code == 200 and slips.content.startswith(b"%PDF")
    assert slips.headers["content-disposition"].endswith('-ar.pdf"')
    number = re.search(r"<bdi>(E\d{6})</bdi>", client.get(run).text)
    assert number is not None
    one = client.get(f"{run}/payslip.pdf", params={"employee_number": number.group(1)})
    assert one.status_code == 200 and one.content.startswith(b"%PDF")
    assert client.get(f"{run}/payslip.pdf", params={"employee_number": "X9"}).status_code == 404
    bank = client.get(f"{run}/bank.csv")
    assert bank.status_code == 200 and bank.headers["content-type"].startswith("text/csv")
    pain = client.get(f"{run}/pain001.xml")
    assert pain.status_code == 200 and b"pain.001.001.09" in pain.content


def test_the_reports_open_for_payroll_readers(
        client: TestClient, make_staff: Callable[..., int], session_factory: Any,
        tmp_path: Path, clock: Any) -> None:
    from .test_paypoint_pages import payroll_month

    numbers = payroll_month(session_factory, tmp_path, clock, [None, None, None])
    make_staff("auditor", Role.AUDITOR)
    make_staff("clerk", Role.HR_CLERK)
    clock.advance(days=40)  # before signing in: the session would expire
    sign_in(client, "auditor")
    index = client.get("/ui/reports").text
    assert 'href="/ui/reports"' in index  # in the navigation
    for path in ("/ui/reports/unclaimed", "/ui/reports/shared-palms",
                 "/ui/reports/never-enrolled", "/ui/reports/history"):
        assert f'"{path}' in index
    unclaimed = client.get("/ui/reports/unclaimed", params={"days": 30}).text
    assert "3 salaries held for 30 days or more." in unclaimed
    assert all(n in unclaimed for n in numbers)
    assert "0 salaries held" in client.get("/ui/reports/unclaimed", params={"days": 60}).text
    never = client.get("/ui/reports/never-enrolled").text
    assert "3 employees." in never and "no palm linked" in never
    assert "None." in client.get("/ui/reports/shared-palms").text
    history = client.get("/ui/reports/history", params={"employee_number": numbers[0]}).text
    assert "2026-03" in history and "held" in history
    assert client.get("/ui/reports/history",
                      params={"employee_number": "NOBODY"}).status_code == 404
    run = client.get("/ui/payroll/runs/1").text
    assert "Released at pay points: 0" in run and "Still held at pay points: 3" in run
    assert "No employee of this run is paid by bank." in run
    client.cookies.clear()
    sign_in(client, "clerk")
    assert client.get("/ui/reports/never-enrolled").status_code == 403
