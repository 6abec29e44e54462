"""Bank transfer files for the employees paid by bank: CSV and ISO 20022 pain.001.001.09 XML.

Transfers are grouped by the receiving bank (``BankAccount.bank_key``: the BIC's first eight
characters, else the bank name). The XML has one payment information block (``PmtInf``) per
receiving bank, each debiting the employer's account; amounts are decimal text made from integer
minor units, and every control sum is the exact sum of its transfers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import groupby

from lxml import etree

from palmvein.core.errors import FieldProblem
from palmvein.core.money import Money, currency_exponent

from .types import (
    AccountScheme,
    BankAccount,
    DocumentInputInvalid,
    Employer,
    PaymentChannel,
    Payslip,
)

PAIN001_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
_MAX35 = 35
_MAX140 = 140


@dataclass(frozen=True, slots=True)
class Transfer:
    """One salary credit: ``end_to_end_id`` is the payslip reference, unique within the batch."""

    payslip: Payslip
    account: BankAccount
    amount: Money
    end_to_end_id: str
    remittance: str


@dataclass(frozen=True, slots=True)
class BankGroup:
    """The transfers to one receiving bank, ordered by employee number."""

    bank_key: str
    bank_name: str
    bic: str | None
    transfers: tuple[Transfer, ...]

    @property
    def total(self) -> Money:
        return Money(sum(t.amount.minor for t in self.transfers), self.transfers[0].amount.currency)


def decimal_amount(amount: Money) -> Decimal:
    """Exact decimal value of ``amount`` (``Money(4540536, "DZD")`` -> ``Decimal("45405.36")``)."""
    return Decimal(amount.minor).scaleb(-currency_exponent(amount.currency))


def amount_text(amount: Money) -> str:
    """Plain decimal text with the currency's number of places and no exponent."""
    return format(decimal_amount(amount), "f")


def remittance_text(payslip: Payslip) -> str:
    return f"SALAIRE {payslip.period.code} {payslip.employee.number} {payslip.reference}"[:_MAX140]


def bank_transfers(payslips: Iterable[Payslip]) -> list[BankGroup]:
    """The bank-paid payslips of a run as transfers grouped by receiving bank.

    Payslips paid by wallet or in cash are left out. Raises DocumentInputInvalid listing every
    problem: a bank payslip with a net of zero or less, a reference longer than 35 characters
    (it becomes the EndToEndId), the same reference twice, or more than one currency.
    """
    problems: list[FieldProblem] = []
    transfers: list[Transfer] = []
    seen: set[str] = set()
    currencies: set[str] = set()
    for payslip in payslips:
        if payslip.channel is not PaymentChannel.BANK:
            continue
        where = f"payslip {payslip.reference}"
        account = payslip.employee.account
        if account is None:  # Payslip refuses this already; kept for the type checker
            problems.append(FieldProblem(where, "paid by bank but has no account"))
            continue
        if payslip.net.minor <= 0:
            problems.append(FieldProblem(where, f"net pay {payslip.net} cannot be transferred"))
        if len(payslip.reference) > _MAX35:
            problems.append(FieldProblem(where, "reference longer than 35 characters"))
        if payslip.reference in seen:
            problems.append(FieldProblem(where, "reference appears twice"))
        seen.add(payslip.reference)
        currencies.add(payslip.currency)
        transfers.append(
            Transfer(payslip, account, payslip.net, payslip.reference, remittance_text(payslip))
        )
    if len(currencies) > 1:
        problems.append(FieldProblem("currency", f"one file per currency: {sorted(currencies)}"))
    if problems:
        raise DocumentInputInvalid("cannot build the bank transfer file", problems)

    transfers.sort(key=lambda t: (t.account.bank_key, t.payslip.employee.number, t.end_to_end_id))
    groups = []
    for key, members in groupby(transfers, key=lambda t: t.account.bank_key):
        batch = tuple(members)
        first = batch[0].account
        bic = next((t.account.bic for t in batch if t.account.bic), None)
        groups.append(BankGroup(key, first.bank_name, bic, batch))
    return groups


CSV_COLUMNS = (
    "bank_key",
    "bank_name",
    "bic",
    "employee_number",
    "name_latin",
    "name_ar",
    "account_scheme",
    "account_id",
    "amount",
    "currency",
    "end_to_end_id",
    "remittance",
)


def bank_transfer_csv(payslips: Iterable[Payslip]) -> bytes:
    """One CSV for all banks, a row per transfer, sorted by bank then employee number.

    UTF-8 with a byte-order mark (so spreadsheet programs show the Arabic names), comma separated,
    amounts as plain decimals with a point (``45405.36``). Split by ``bank_key`` for one file per
    bank. Raises like :func:`bank_transfers`.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for group in bank_transfers(payslips):
        for t in group.transfers:
            employee = t.payslip.employee
            writer.writerow(
                (
                    group.bank_key,
                    t.account.bank_name,
                    t.account.bic or "",
                    employee.number,
                    employee.name_latin,
                    employee.name_ar,
                    t.account.scheme.value.upper(),
                    t.account.identifier,
                    amount_text(t.amount),
                    t.amount.currency,
                    t.end_to_end_id,
                    t.remittance,
                )
            )
    return buffer.getvalue().encode("utf-8-sig")


def pain001_xml(
    employer: Employer,
    payslips: Iterable[Payslip],
    *,
    message_id: str,
    created_at: datetime,
    execution_date: date,
) -> bytes:
    """ISO 20022 customer credit transfer initiation (pain.001.001.09) for the bank-paid payslips.

    ``message_id`` (at most 35 characters) must be unique per file sent to the bank;
    ``created_at`` must carry a time zone. One ``PmtInf`` per receiving bank, identified as
    ``<message_id>-<n>``, category purpose SALA. Returns UTF-8 XML bytes. Raises
    DocumentInputInvalid when there is nothing to pay or an input breaks a length rule.
    """
    groups = bank_transfers(payslips)
    problems = []
    if not groups:
        problems.append(FieldProblem("payslips", "no payslip is paid by bank"))
    if not message_id or len(message_id) > _MAX35 - 4:
        # PmtInfId appends "-NNN" to the message id and must stay within 35 characters.
        problems.append(FieldProblem("message_id", "1 to 31 characters"))
    if created_at.tzinfo is None:
        problems.append(FieldProblem("created_at", "needs a time zone"))
    if problems:
        raise DocumentInputInvalid("cannot build the pain.001 file", problems)

    all_transfers = [t for g in groups for t in g.transfers]
    root = etree.Element(f"{{{PAIN001_NAMESPACE}}}Document", nsmap={None: PAIN001_NAMESPACE})
    initiation = _sub(root, "CstmrCdtTrfInitn")
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", created_at.isoformat(timespec="seconds"))
    _sub(header, "NbOfTxs", str(len(all_transfers)))
    _sub(header, "CtrlSum", _control_sum(all_transfers))
    initiating = _sub(header, "InitgPty")
    _sub(initiating, "Nm", employer.name_latin[:_MAX140])
    other = _sub(_sub(_sub(initiating, "Id"), "OrgId"), "Othr")
    _sub(other, "Id", employer.tax_id)
    _sub(_sub(other, "SchmeNm"), "Cd", "TXID")

    for index, group in enumerate(groups, start=1):
        _payment_information(
            initiation, employer, group, f"{message_id}-{index:03d}", execution_date
        )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _payment_information(
    parent: etree._Element,
    employer: Employer,
    group: BankGroup,
    identifier: str,
    execution_date: date,
) -> None:
    info = _sub(parent, "PmtInf")
    _sub(info, "PmtInfId", identifier)
    _sub(info, "PmtMtd", "TRF")
    _sub(info, "BtchBookg", "true")
    _sub(info, "NbOfTxs", str(len(group.transfers)))
    _sub(info, "CtrlSum", _control_sum(group.transfers))
    _sub(_sub(_sub(info, "PmtTpInf"), "CtgyPurp"), "Cd", "SALA")
    _sub(_sub(info, "ReqdExctnDt"), "Dt", execution_date.isoformat())
    _sub(_sub(info, "Dbtr"), "Nm", employer.name_latin[:_MAX140])
    _account(_sub(info, "DbtrAcct"), employer.account)
    _agent(_sub(info, "DbtrAgt"), employer.account)
    for transfer in group.transfers:
        _transaction(info, transfer)


def _transaction(parent: etree._Element, transfer: Transfer) -> None:
    tx = _sub(parent, "CdtTrfTxInf")
    _sub(_sub(tx, "PmtId"), "EndToEndId", transfer.end_to_end_id)
    amount = _sub(_sub(tx, "Amt"), "InstdAmt", amount_text(transfer.amount))
    amount.set("Ccy", transfer.amount.currency)
    _agent(_sub(tx, "CdtrAgt"), transfer.account)
    _sub(_sub(tx, "Cdtr"), "Nm", transfer.payslip.employee.name_latin[:_MAX140])
    _account(_sub(tx, "CdtrAcct"), transfer.account)
    _sub(_sub(tx, "Purp"), "Cd", "SALA")
    _sub(_sub(tx, "RmtInf"), "Ustrd", transfer.remittance)


def _account(parent: etree._Element, account: BankAccount) -> None:
    identification = _sub(parent, "Id")
    if account.scheme is AccountScheme.IBAN:
        _sub(identification, "IBAN", account.identifier.replace(" ", "").upper())
        return
    other = _sub(identification, "Othr")
    _sub(other, "Id", account.identifier.replace(" ", "")[:34])
    _sub(_sub(other, "SchmeNm"), "Prtry", account.scheme.value.upper())


def _agent(parent: etree._Element, account: BankAccount) -> None:
    institution = _sub(parent, "FinInstnId")
    if account.bic:
        _sub(institution, "BICFI", account.bic.upper())
    else:
        _sub(institution, "Nm", account.bank_name[:_MAX140])


def _control_sum(transfers: Sequence[Transfer]) -> str:
    currency = transfers[0].amount.currency
    return amount_text(Money(sum(t.amount.minor for t in transfers), currency))


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{PAIN001_NAMESPACE}}}{tag}")
    if text is not None:
        element.text = text
    return element
