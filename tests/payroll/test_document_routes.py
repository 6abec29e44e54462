"""Document downloads over HTTP: previews while computed, bank files once posted, role guards."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from lxml import etree

from palmvein.core.security.roles import Role
from payroll.sample import algeria_structure, employee_rows, write_csv

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


def test_documents_of_a_run_through_the_api(
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
    tmp_path: Path,
) -> None:
    officer = bearer(make_staff("officer", Role.PAYROLL_OFFICER))
    approver = bearer(make_staff("approver", Role.PAYROLL_APPROVER))
    auditor = bearer(make_staff("auditor", Role.AUDITOR))
    cashier = bearer(make_staff("cashier", Role.MERCHANT_CASHIER))

    rows = employee_rows(5, seed=3)
    rows[4].update(account_scheme="", account_number="")  # paid at the pay point
    data = write_csv(tmp_path / "e.csv", rows).read_bytes()
    imported = client.post("/payroll/employees/import", files={"file": ("e.csv", data)},
                           headers=officer)  # fmt: skip
    assert imported.status_code == 200
    structure = {"grade": "G12", "effective_from": "2026-01-01", "definition": algeria_structure()}
    assert client.post("/payroll/structures", json=structure, headers=officer).status_code == 201
    run_id = client.post("/payroll/runs", json={"period": "2026-04"}, headers=officer).json()["id"]
    base = f"/payroll/runs/{run_id}"

    opened = client.get(f"{base}/payslips.pdf", headers=officer)
    assert opened.status_code == 409 and opened.json()["type"].endswith("payroll-run-state")
    assert client.get("/payroll/runs/999/register.csv", headers=officer).status_code == 404

    client.post(f"{base}/compute", headers=officer)
    preview = client.get(f"{base}/payslips.pdf?language=ar", headers=approver)
    assert preview.status_code == 200 and preview.headers["content-type"] == "application/pdf"
    assert preview.content.startswith(b"%PDF")
    assert preview.headers["content-disposition"] == (
        f'attachment; filename="payslips-run{run_id}-2026-04-preview-ar.pdf"'
    )
    bank = client.get(f"{base}/bank.csv", headers=officer)
    assert bank.status_code == 409 and "posted" in bank.json()["detail"]
    assert client.get(f"{base}/payslips.pdf?language=de", headers=officer).status_code == 422

    client.post(f"{base}/submit", headers=officer)
    client.post(f"{base}/approve", headers=approver)
    posted = client.post(f"{base}/post", headers=approver).json()
    assert posted["status"] == "posted"

    one = client.get(f"{base}/payslips/E000001.pdf?language=en", headers=auditor)
    assert one.status_code == 200 and one.headers["content-disposition"].endswith(
        f'filename="payslip-run{run_id}-2026-04-E000001-en.pdf"'
    )
    assert client.get(f"{base}/payslips/NOBODY.pdf", headers=auditor).status_code == 404
    register = client.get(f"{base}/register.csv", headers=auditor)
    assert register.headers["content-type"] == "text/csv; charset=utf-8"
    total = list(csv.DictReader(io.StringIO(register.content.decode("utf-8-sig"))))[-1]
    assert total["employee_number"] == "TOTAL"
    assert client.get(f"{base}/register.pdf", headers=auditor).content.startswith(b"%PDF")

    # Until the bank file is produced (POST, which books the transfers) there is none to fetch.
    unproduced = client.get(f"{base}/bank.csv", headers=auditor)
    assert unproduced.status_code == 409 and "not been produced" in unproduced.json()["detail"]
    assert client.post(f"{base}/bank.csv", headers=auditor).status_code == 403
    produced = client.post(f"{base}/bank.csv", headers=officer)
    assert produced.status_code == 200 and produced.headers["x-transfers-booked"] == "4"
    again = client.post(f"{base}/bank.csv", headers=approver)
    assert again.headers["x-transfers-booked"] == "0" and again.content == produced.content
    assert client.get(f"{base}/bank.csv", headers=auditor).content == produced.content
    bank_rows = list(csv.DictReader(io.StringIO(produced.content.decode("utf-8-sig"))))
    assert [r["employee_number"] for r in bank_rows] == ["E000001", "E000002", "E000003", "E000004"]
    made = client.post(f"{base}/pain001.xml?execution_date=2026-04-28", headers=approver)
    assert made.status_code == 200 and made.headers["x-transfers-booked"] == "0"
    xml = client.get(f"{base}/pain001.xml?execution_date=2026-04-28", headers=approver)
    assert xml.content == made.content
    assert xml.status_code == 200 and xml.headers["content-type"] == "application/xml"
    assert xml.headers["content-disposition"] == (
        f'attachment; filename="pain001-run{run_id}-2026-04.xml"'
    )
    root = etree.fromstring(xml.content)
    assert root.xpath("string(//p:ReqdExctnDt/p:Dt)", namespaces=NS) == "2026-04-28"
    assert root.xpath("count(//p:CdtTrfTxInf)", namespaces=NS) == 4
    assert int(root.xpath("string(//p:GrpHdr/p:CtrlSum)", namespaces=NS).replace(".", "")) == sum(
        int(r["amount"].replace(".", "")) for r in bank_rows
    )

    assert client.get(f"{base}/bank.csv").status_code == 401
    assert client.get(f"{base}/bank.csv", headers=cashier).status_code == 403
    assert client.get(f"{base}/payslips.pdf", headers=cashier).status_code == 403
