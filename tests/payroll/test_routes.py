"""The payroll API: a month through HTTP with two staff users, and the role guards."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from palmvein.core.security.roles import Role
from payroll.sample import algeria_structure, employee_rows, write_csv


def test_a_month_through_the_api(
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    officer = bearer(make_staff("officer", Role.PAYROLL_OFFICER))
    approver = bearer(make_staff("approver", Role.PAYROLL_APPROVER))
    auditor = bearer(make_staff("auditor", Role.AUDITOR))

    rows = employee_rows(12, seed=2)
    bad = [dict(r) for r in rows]
    bad[2]["national_id"] = "?"
    bad[5]["account_number"] = "0000000001 00"  # the key is 04
    response = client.post(
        "/payroll/employees/import",
        files={"file": ("bad.csv", write_csv(tmp_path / "bad.csv", bad).read_bytes())},
        headers=officer,
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [
        "row 4: national_id",
        "row 7: account_number",
    ]
    response = client.post(
        "/payroll/employees/import",
        files={"file": ("e.csv", write_csv(tmp_path / "e.csv", rows).read_bytes())},
        headers=officer,
    )
    assert response.status_code == 200 and response.json()["created"] == 12

    structure = {"grade": "G12", "effective_from": "2026-01-01", "definition": algeria_structure()}
    assert client.post("/payroll/structures", json=structure, headers=officer).status_code == 201
    run = client.post("/payroll/runs", json={"period": "2026-03"}, headers=officer).json()
    run_id = run["id"]
    computed = client.post(f"/payroll/runs/{run_id}/compute", headers=officer).json()
    assert computed["payable"] == 12 and computed["problem_counts"] == {"not_enrolled": 12}
    assert client.post(f"/payroll/runs/{run_id}/approve", headers=officer).status_code == 403
    assert client.post(f"/payroll/runs/{run_id}/submit", headers=officer).status_code == 200
    assert client.post(f"/payroll/runs/{run_id}/approve", headers=approver).status_code == 200

    first = client.post(f"/payroll/runs/{run_id}/post?max_batches=1&batch_size=5", headers=approver)
    assert first.json()["status"] == "posting" and first.json()["posted"] == 5
    done = client.post(f"/payroll/runs/{run_id}/post", headers=approver).json()
    assert done["status"] == "posted" and done["posted"] == 12 and done["posted_net"] == done["net"]
    again = client.post(f"/payroll/runs/{run_id}/post", headers=approver).json()
    assert again["posted"] == 12  # a retried post books nothing twice

    unclaimed = client.get("/payroll/reports/unclaimed?days=0", headers=auditor).json()
    assert len(unclaimed) == 12
    history = client.get(f"/payroll/employees/{rows[0]['employee_number']}/history",
                         headers=auditor).json()  # fmt: skip
    assert [h["status"] for h in history] == ["held"]

    key = {"Idempotency-Key": "cancel-1"}
    cancel = client.post(f"/payroll/runs/{run_id}/cancel", json={"reason": "wrong month"},
                         headers=approver | key)  # fmt: skip
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    replay = client.post(f"/payroll/runs/{run_id}/cancel", json={"reason": "wrong month"},
                         headers=approver | key)  # fmt: skip
    assert replay.headers.get("Idempotent-Replayed") == "true"


def test_the_maker_cannot_check(
    client: TestClient, make_staff: Callable[..., int], bearer: Callable[[int], dict[str, str]]
) -> None:
    both = bearer(make_staff("both", Role.PAYROLL_OFFICER, Role.PAYROLL_APPROVER))
    structure = {"grade": "G12", "effective_from": "2026-01-01", "definition": algeria_structure()}
    client.post("/payroll/structures", json=structure, headers=both)
    run_id = client.post("/payroll/runs", json={"period": "2026-04"}, headers=both).json()["id"]
    client.post(f"/payroll/runs/{run_id}/compute", headers=both)
    client.post(f"/payroll/runs/{run_id}/submit", headers=both)
    refused = client.post(f"/payroll/runs/{run_id}/approve", headers=both)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("payroll-maker-checker")
    assert "cannot approve" in refused.json()["detail"]
