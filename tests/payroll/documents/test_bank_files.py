"""Bank transfer files: grouping by bank, exact control sums, pain.001.001.09 valid against the
ISO 20022 schema (the XSD shipped in the sepaxml package), and the CSV."""

import csv
import importlib.resources
import io
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from palmvein.core.money import Money
from payroll.documents import (
    PAIN001_NAMESPACE,
    AccountScheme,
    BankAccount,
    DocumentInputInvalid,
    Employer,
    PaymentChannel,
    Payslip,
    bank_transfer_csv,
    bank_transfers,
    pain001_xml,
)
from payroll.documents.examples import example_employees, example_payslip

NS = {"p": PAIN001_NAMESPACE}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    xsd = importlib.resources.files("sepaxml") / "schemas" / "pain.001.001.09.xsd"
    with importlib.resources.as_file(xsd) as path:
        return etree.XMLSchema(etree.parse(str(path)))


def build(employer: Employer, payslips: list[Payslip]) -> etree._Element:
    xml = pain001_xml(
        employer,
        payslips,
        message_id="SAL-2026-11-0001",
        created_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        execution_date=date(2026, 11, 28),
    )
    return etree.fromstring(xml)


def test_pain001_is_valid_and_grouped_by_bank(
    employer: Employer, run: list[Payslip], schema: etree.XMLSchema
) -> None:
    doc = build(employer, run)
    schema.assertValid(doc)
    assert doc.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "3"
    assert doc.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "166739.08"
    blocks = doc.findall("p:CstmrCdtTrfInitn/p:PmtInf", namespaces=NS)
    # Two banks and the post office; the cash-paid employee is not in the file.
    assert [b.findtext("p:PmtInfId", namespaces=NS) for b in blocks] == [
        "SAL-2026-11-0001-001",
        "SAL-2026-11-0001-002",
        "SAL-2026-11-0001-003",
    ]
    for block in blocks:
        assert block.findtext("p:ReqdExctnDt/p:Dt", namespaces=NS) == "2026-11-28"
        assert block.findtext("p:PmtTpInf/p:CtgyPurp/p:Cd", namespaces=NS) == "SALA"
        assert block.findtext("p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) == "BEDMDZAL"
        amounts = [Decimal(a.text) for a in block.iterfind(".//p:InstdAmt", namespaces=NS)]
        assert Decimal(block.findtext("p:CtrlSum", namespaces=NS)) == sum(amounts)
        assert block.findtext("p:NbOfTxs", namespaces=NS) == str(len(amounts))
    names = [
        t.findtext("p:Cdtr/p:Nm", namespaces=NS)
        for t in doc.iter(f"{{{PAIN001_NAMESPACE}}}CdtTrfTxInf")
    ]
    assert "Youcef Échantillon" not in names


def test_pain001_accounts_and_agents(employer: Employer, run: list[Payslip]) -> None:
    doc = build(employer, run)
    by_id = {
        t.findtext("p:PmtId/p:EndToEndId", namespaces=NS): t
        for t in doc.iter(f"{{{PAIN001_NAMESPACE}}}CdtTrfTxInf")
    }
    rib = by_id["BP-2026-11-E-0001"]
    assert rib.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == "00100123000099990001"
    assert rib.findtext("p:CdtrAcct/p:Id/p:Othr/p:SchmeNm/p:Prtry", namespaces=NS) == "RIB"
    assert rib.findtext("p:CdtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) == "BEDMDZAL"
    amount = rib.find("p:Amt/p:InstdAmt", namespaces=NS)
    assert (amount.text, amount.get("Ccy")) == ("45405.36", "DZD")
    assert rib.findtext("p:RmtInf/p:Ustrd", namespaces=NS).startswith("SALAIRE 2026-11 E-0001")

    iban = by_id["BP-2026-11-E-0003"]
    assert iban.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == "DZ4000100123000099990003"
    assert iban.find("p:CdtrAcct/p:Id/p:Othr", namespaces=NS) is None

    postal = by_id["BP-2026-11-E-0002"]  # no BIC known: the agent is named instead
    assert postal.find("p:CdtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) is None
    assert postal.findtext("p:CdtrAgt/p:FinInstnId/p:Nm", namespaces=NS) == "Poste de Démo"
    assert postal.findtext("p:CdtrAcct/p:Id/p:Othr/p:SchmeNm/p:Prtry", namespaces=NS) == "RIP"


BANKS = [
    BankAccount(AccountScheme.RIB, "0010012300009999{:04d}", "Banque A", "BAAADZAL"),
    BankAccount(AccountScheme.IBAN, "MA64011519000001205000{:04d}", "Banque B", "BBBBMAMCXXX"),
    BankAccount(AccountScheme.CCP, "99999{:04d} 12", "Poste"),
]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=10**9), st.integers(0, 2), st.booleans()),
        min_size=1,
        max_size=30,
    )
)
def test_control_sums_are_exact(specs: list[tuple[int, int, bool]]) -> None:
    """Whatever the amounts, every CtrlSum equals the sum of its InstdAmt, to the centime."""
    template = example_employees()[0]
    payslips = []
    for i, (cents, bank, by_bank) in enumerate(specs):
        account = BANKS[bank]
        employee = replace(
            template,
            number=f"E-{i:04d}",
            account=replace(account, identifier=account.identifier.format(i)),
        )
        base = Money(cents, "DZD").to_decimal()
        channel = PaymentChannel.BANK if by_bank or i == 0 else PaymentChannel.WALLET
        payslips.append(example_payslip(employee, str(base), channel))
    from payroll.documents.examples import example_employer

    doc = build(example_employer(), payslips)
    amounts = [Decimal(a.text) for a in doc.iter(f"{{{PAIN001_NAMESPACE}}}InstdAmt")]
    expected = sum(p.net.minor for p in payslips if p.channel is PaymentChannel.BANK)
    header = doc.find("p:CstmrCdtTrfInitn/p:GrpHdr", namespaces=NS)
    assert Decimal(header.findtext("p:CtrlSum", namespaces=NS)) == sum(amounts)
    assert sum(amounts) * 100 == expected
    assert header.findtext("p:NbOfTxs", namespaces=NS) == str(len(amounts))
    groups = bank_transfers(payslips)
    assert len(groups) == len(
        {
            p.employee.account.bank_key
            for p in payslips
            if p.channel is PaymentChannel.BANK and p.employee.account
        }
    )


def test_problems_are_reported_together(employer: Employer, run: list[Payslip]) -> None:
    long_ref = replace(run[0], reference="X" * 36)
    twice = replace(run[1], reference=run[2].reference)
    with pytest.raises(DocumentInputInvalid) as caught:
        bank_transfers([long_ref, twice, run[2]])
    messages = [p.message for p in caught.value.problems]
    assert "reference longer than 35 characters" in messages
    assert "reference appears twice" in messages


def test_nothing_to_pay_and_naive_time_are_refused(employer: Employer, run: list[Payslip]) -> None:
    with pytest.raises(DocumentInputInvalid, match="pain.001") as caught:
        pain001_xml(
            employer,
            [run[3]],
            message_id="M1",
            created_at=datetime(2026, 11, 25),
            execution_date=date(2026, 11, 28),
        )
    fields = {p.field for p in caught.value.problems}
    assert fields == {"payslips", "created_at"}


def test_csv_has_a_bank_column_and_exact_amounts(run: list[Payslip]) -> None:
    data = bank_transfer_csv(run)
    assert data.startswith(b"\xef\xbb\xbf")  # byte-order mark for spreadsheet programs
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["employee_number"] for r in rows] == ["E-0001", "E-0003", "E-0002"]
    assert [r["bank_key"] for r in rows] == ["BEDMDZAL", "CPDMDZAL", "poste de démo"]
    assert rows[0]["name_ar"] == "سميرة مثال"
    assert rows[2]["account_scheme"] == "RIP"
    total = sum(Decimal(r["amount"]) for r in rows)
    bank_paid = [p for p in run if p.channel is PaymentChannel.BANK]
    assert total == sum(p.net.to_decimal() for p in bank_paid) == Decimal("166739.08")
