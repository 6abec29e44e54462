"""Salary release at a pay point through HTTP: a signed pay-point device, the palm, exactly once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from devices.signing import RequestSigner
from palmvein.core.security.roles import Role
from payroll.sample import algeria_structure, employee_rows, write_csv


@dataclass(frozen=True)
class Decision:
    outcome: str
    subject_id: str | None
    score: float = 0.7
    threshold: float = 0.61


def test_a_salary_released_by_palm_at_a_signed_pay_point(
    app: FastAPI,
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
    tmp_path: Path,
) -> None:
    officer = bearer(make_staff("officer", Role.PAYROLL_OFFICER))
    approver = bearer(make_staff("approver", Role.PAYROLL_APPROVER))
    admin = bearer(make_staff("admin", Role.ADMIN))
    clerk = bearer(make_staff("clerk", Role.HR_CLERK))

    # Two enrolled people become two employees paid in cash at one pay point.
    people = [
        client.post("/persons", json={"display_name": name}, headers=clerk).json()["id"]
        for name in ("Yacine", "Nadia")
    ]
    rows = employee_rows(2, seed=5, subject_ids=people)
    for row in rows:
        row.update(pay_point="PP-ALGER-01", account_scheme="", account_number="")
    imported = client.post(
        "/payroll/employees/import",
        files={"file": ("e.csv", write_csv(tmp_path / "e.csv", rows).read_bytes())},
        headers=officer,
    )
    assert imported.status_code == 200, imported.text
    structure = {"grade": "G12", "effective_from": "2026-01-01", "definition": algeria_structure()}
    assert client.post("/payroll/structures", json=structure, headers=officer).status_code == 201
    run_id = client.post("/payroll/runs", json={"period": "2026-03"}, headers=officer).json()["id"]
    for step, who in (("compute", officer), ("submit", officer), ("approve", approver),
                      ("post", approver)):  # fmt: skip
        assert client.post(f"/payroll/runs/{run_id}/{step}", headers=who).status_code == 200

    # The post office's pay-point device, registered by an admin.
    place = {"code": "PP-ALGER-01", "name": "Poste Alger-Centre"}
    assert client.post("/devices/pay-points", json=place, headers=admin).status_code == 201
    registered = client.post(
        "/devices",
        json={"kind": "pay_point", "label": "guichet 3", "pay_point": "PP-ALGER-01"},
        headers=admin,
    )
    assert registered.status_code == 201, registered.text
    key = registered.json()["key"]
    desk = RequestSigner(key["key_id"], key["secret"], clock=lambda: app.state.clock().timestamp())

    palms = {b"yacine": Decision("match", people[0]), b"nadia": Decision("match", people[1]),
             b"blurred": Decision("no_match", None, score=0.55)}  # fmt: skip
    app.state.identify_override = lambda session, image, purpose: palms[image]

    def claim(number: str, palm: bytes, idem: str, *, signed: bool = True) -> Any:
        request = client.build_request(
            "POST",
            "/payroll/paypoint/claims",
            data={"employee_number": number, "channel": "cash"},
            files={"image": ("palm.png", palm, "image/png")},
            headers={"Idempotency-Key": idem},
        )
        if signed:
            request.headers.update(desk.headers("POST", "/payroll/paypoint/claims",
                                                request.read()))  # fmt: skip
        return client.send(request)

    yacine, nadia = rows[0]["employee_number"], rows[1]["employee_number"]
    assert claim(yacine, b"yacine", "k0", signed=False).status_code == 401

    wrong = claim(yacine, b"nadia", "k1")
    assert wrong.status_code == 422
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["outcome"] == "wrong_person" and wrong.json()["released"] == []

    paid = claim(yacine, b"yacine", "k2")
    assert paid.status_code == 200, paid.text
    [release] = paid.json()["released"]
    assert release["channel"] == "cash" and release["amount"] > 0
    replay = claim(yacine, b"yacine", "k2")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == paid.json()
    assert claim(yacine, b"yacine", "k3").json()["outcome"] == "nothing_held"

    # Nadia's palm fails three times; only then may a supervisor release, with a reason.
    manual = {"employee_number": nadia, "reason": "scarred palm, national card checked",
              "pay_point": "PP-ALGER-01"}  # fmt: skip
    too_early = client.post("/payroll/paypoint/manual-releases", json=manual, headers=approver)
    assert too_early.status_code == 403, too_early.text
    refusals = [claim(nadia, b"blurred", f"n{i}").json() for i in range(3)]
    assert [r["failed_attempts"] for r in refusals] == [1, 2, 3]
    assert refusals[-1]["manual_release_allowed"] is True
    assert client.post("/payroll/paypoint/manual-releases", json=manual,
                       headers=officer).status_code == 403  # fmt: skip
    done = client.post("/payroll/paypoint/manual-releases", json=manual, headers=approver)
    assert done.status_code == 201, done.text
    assert done.json()[0]["supervisor_override_reason"] == manual["reason"]

    history = client.get(f"/payroll/employees/{nadia}/history", headers=approver).json()
    assert [h["status"] for h in history] == ["released"]
