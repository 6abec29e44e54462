"""Documents of a real run: the four-employee month, posted, one salary released to a wallet.

E000001 (account, loan) is released to the wallet, E000002 has no account (paid at the pay point),
E000003 has an account and is paid by bank, E000004 is suspended (not paid). The worked example:
what the payslip says is what was booked, and only E000003 is in the bank files.
"""

from __future__ import annotations

import csv
import importlib.resources
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import select

from palmvein.core.money import Money
from palmvein.core.settings import Settings
from payments import service as payments_service
from payments.models import Posting
from payroll import booking, runs
from payroll.documents import PaymentChannel, amount_in_words
from payroll.documents.formatting import format_amount
from payroll.documents_service import (
    RunDocuments,
    employee_account,
    employer_from_settings,
    load_run_documents,
    produce_bank_file,
)
from payroll.errors import RunStateConflict
from payroll.models import Employee, Payment, ReleaseChannel
from payroll.release import release_payment

from .conftest import Office, four_employees
from .test_runs import approved_run, post_all

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def payment_of(office: Office, number: str) -> Payment:
    return office.session.scalars(
        select(Payment)
        .join(Employee, Employee.id == Payment.employee_id)
        .where(Employee.employee_number == number)
    ).one()


def documents(office: Office, run_id: int) -> RunDocuments:
    return load_run_documents(office.session, run_id, employer_from_settings(Settings()))


@pytest.fixture
def released_month(office: Office) -> int:
    four_employees(office)
    payments_service.open_wallet(
        office.session, person_id="subj-1", currency="DZD", phone="+213555000001", now=office.now
    )
    run_id = approved_run(office)
    post_all(office, run_id)
    release_payment(office.session, payment_of(office, "E000001").id,
                    channel=ReleaseChannel.WALLET, released_by="pp-1", now=office.now)  # fmt: skip
    office.session.commit()
    return run_id


def test_the_payslip_shows_the_net_that_was_booked(office: Office, released_month: int) -> None:
    run = documents(office, released_month)
    assert not run.preview
    assert [p.employee.number for p in run.payslips] == ["E000001", "E000002", "E000003"]
    for number in ("E000001", "E000003"):
        paid = Money(payment_of(office, number).amount, "DZD")
        assert run.payslip(number).net == paid
        text = pdf_text(run.payslip_pdf(number, "fr"))
        figures = " ".join(format_amount(paid, "fr").split())  # "36 637,85"
        assert f"{figures} DZD" in text and amount_in_words(paid, "fr") in text
        assert "APERÇU" not in text
    assert {p.employee.number: p.channel for p in run.payslips} == {
        "E000001": PaymentChannel.WALLET,
        "E000002": PaymentChannel.CASH,
        "E000003": PaymentChannel.BANK,
    }
    assert pdf_text(run.payslips_pdf("ar")).count("R1-2026-03-E00000") == 3


def test_the_register_totals_are_the_ledger_postings_of_the_run(
    office: Office, released_month: int
) -> None:
    s = office.session
    rows = list(csv.DictReader(io.StringIO(documents(office, released_month).register_csv()
                                           .decode("utf-8-sig"))))  # fmt: skip
    total = rows[-1]
    assert total["employee_number"] == "TOTAL" and len(rows) == 4
    transactions = set(s.scalars(select(Payment.transaction_id)
                                 .where(Payment.run_id == released_month)))  # fmt: skip
    postings = list(s.scalars(select(Posting).where(Posting.transaction_id.in_(transactions))))
    funding = booking.funding_account(s, "DZD", office.now)
    nets = {p.net_account_id for p in s.scalars(select(Payment))}
    cost = -sum(p.amount for p in postings if p.account_id == funding)
    booked_net = sum(p.amount for p in postings if p.account_id in nets)
    owed = sum(p.amount for p in postings if p.account_id not in nets | {funding})

    def minor(text: str) -> int:
        return Money.of(Decimal(text), "DZD").minor

    employer_share = sum(
        minor(v) for k, v in total.items() if k.startswith("employer_contribution")
    )
    assert minor(total["net"]) == booked_net
    assert minor(total["gross"]) + employer_share == cost
    assert minor(total["total_deductions"]) + employer_share == owed
    summary = runs.summarize(s, released_month)
    assert booked_net == summary.posted_net


def test_bank_files_list_exactly_the_bank_paid_employees(
    office: Office, released_month: int
) -> None:
    unproduced = documents(office, released_month)
    with pytest.raises(RunStateConflict, match="not been produced"):
        unproduced.bank_csv()  # E000003's salary is still held: no file before it is booked
    created = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    produced = produce_bank_file(
        office.session, released_month, employer_from_settings(Settings()), file_format="pain001",
        actor="officer", now=created, execution_date=date(2026, 3, 30),
    )  # fmt: skip
    office.session.commit()
    assert produced.settlement.booked == 1
    run = documents(office, released_month)
    xml = run.pain001_xml(execution_date=date(2026, 3, 30), created_at=created)
    assert xml == produced.content
    root = etree.fromstring(xml)
    xsd = importlib.resources.files("sepaxml") / "schemas" / "pain.001.001.09.xsd"
    with importlib.resources.as_file(xsd) as path:
        etree.XMLSchema(etree.parse(str(path))).assertValid(root)
    ids = root.xpath("//p:CdtTrfTxInf/p:PmtId/p:EndToEndId/text()", namespaces=NS)
    assert ids == [f"R{released_month}-2026-03-E000003"]
    paid = payment_of(office, "E000003").amount
    control = root.xpath("string(//p:GrpHdr/p:CtrlSum)", namespaces=NS)
    assert Money.of(Decimal(control), "DZD").minor == paid
    assert root.xpath("string(//p:GrpHdr/p:MsgId)", namespaces=NS) == "PAYROLL-R1-2026-03"
    bank_rows = list(csv.DictReader(io.StringIO(run.bank_csv().decode("utf-8-sig"))))
    assert [r["employee_number"] for r in bank_rows] == ["E000003"]
    assert b"E000001" not in xml and b"E000002" not in xml  # wallet and pay-point salaries


def test_a_computed_run_prints_previews_but_no_bank_file(office: Office) -> None:
    four_employees(office)
    run = runs.open_run(office.session, period="2026-03", currency="DZD", actor="officer",
                        now=office.now)  # fmt: skip
    with pytest.raises(RunStateConflict, match="open"):
        documents(office, run.id)
    runs.compute_run(office.session, run.id, actor="officer", now=office.now)
    office.session.commit()
    preview = documents(office, run.id)
    assert preview.preview
    assert "APERÇU, chiffres non définitifs" in pdf_text(preview.payslips_pdf("fr"))
    assert "PREVIEW, figures not final" in pdf_text(preview.register_pdf("en"))
    with pytest.raises(RunStateConflict, match="posted"):
        preview.bank_csv()
    with pytest.raises(RunStateConflict, match="posted"):
        preview.pain001_xml(execution_date=date(2026, 3, 30), created_at=office.now)


def test_accounts_keep_their_scheme_and_group_by_bank() -> None:
    postal = employee_account("rib_dz", "00799999001234567890")
    bank = employee_account("rib_dz", "00100160012345678931")
    morocco = employee_account("rib_ma", "011780000012345678901234")
    ccp = employee_account("ccp", "001234567832")
    assert postal is not None and postal.scheme.value == "rip"
    assert bank is not None and bank.scheme.value == "rib" and bank.bank_key == "banque dz 001"
    assert morocco is not None and morocco.bank_key == "banque ma 011"
    assert ccp is not None and ccp.scheme.value == "ccp" and ccp.bank_key == postal.bank_key
    assert employee_account(None, None) is None
