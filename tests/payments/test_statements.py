"""A merchant's day and a wallet's history, as the merchant and the customer read them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from palmvein.core.money import Money
from payments import service, statements
from payments.models import OperationType

from .conftest import POLICY, World, dzd


def _sale(world: World, amount: str, reference: str) -> service.Operation:
    return service.purchase(
        world.session,
        POLICY,
        payer_wallet_id=world.amina.id,
        merchant_account_id=world.shop.id,
        amount=dzd(amount),
        initiator="device:T-1",
        now=world.now,
        client_reference=reference,
    )


def test_merchant_daily_statement_adds_up(world: World) -> None:
    # Tariff: the merchant pays 1 % per sale, returned pro rata on refunds.
    _sale(world, "1000", "s-1")
    world.clock.advance(minutes=5)
    voided = _sale(world, "500", "s-2")
    service.void_purchase(
        world.session, POLICY, operation_id=voided.id, initiator="device:T-1", now=world.now
    )
    world.clock.advance(minutes=5)
    refunded = _sale(world, "200", "=cmd|' /C calc'!A0")
    service.refund_purchase(
        world.session,
        POLICY,
        operation_id=refunded.id,
        amount=dzd("50"),
        initiator="device:T-1",
        now=world.now,
    )
    world.clock.advance(hours=8)
    service.settle_merchant(
        world.session, POLICY, merchant_account_id=world.shop.id, initiator="ops", now=world.now
    )
    world.session.commit()

    statement = statements.merchant_daily_statement(
        world.session, POLICY, merchant_account_id=world.shop.id, day=world.now.date()
    )
    assert [line.type for line in statement.lines] == [
        OperationType.PURCHASE,
        OperationType.PURCHASE,
        OperationType.VOID,
        OperationType.PURCHASE,
        OperationType.REFUND,
    ]
    assert statement.sales == dzd("1700")
    assert statement.voids == dzd("-500")
    assert statement.refunds == dzd("-50")
    # -10 -5 +5 (void) -2 +0.50 (a quarter of the 2 DZD fee back with the refund)
    assert statement.fees == dzd("-11.50")
    assert statement.net == dzd("1138.50")
    assert statement.settled == statement.net
    for line in statement.lines:
        assert line.net == line.gross + line.fee

    rows = list(csv.reader(io.StringIO(statements.merchant_statement_csv(statement))))
    assert rows[0] == [
        "time",
        "operation_id",
        "type",
        "client_reference",
        "gross",
        "fee",
        "net",
        "currency",
    ]
    assert rows[4][3].startswith("'="), "formula-like text is defused"
    totals = {row[2]: row[4] for row in rows if row and row[0] == "total"}
    assert totals == {
        "sales": "1700.00",
        "voids": "-500.00",
        "refunds": "-50.00",
        "fees": "-11.50",
        "net": "1138.50",
        "settled to bank": "1138.50",
    }


def test_a_day_without_sales_is_an_empty_statement(world: World) -> None:
    statement = statements.merchant_daily_statement(
        world.session, POLICY, merchant_account_id=world.shop.id, day=world.now.date()
    )
    assert statement.lines == [] and statement.net == Money.zero("DZD")


def test_wallet_statement_shows_a_running_balance(world: World) -> None:
    start = world.now
    world.clock.advance(hours=1)
    service.transfer_p2p(
        world.session,
        POLICY,
        from_wallet_id=world.amina.id,
        to_wallet_id=world.karim.id,
        amount=dzd("1000"),
        initiator="app:amina",
        now=world.now,
    )
    _sale(world, "300", "s-1")
    world.session.commit()

    statement = statements.wallet_statement(
        world.session,
        account_id=world.amina.id,
        start=start + timedelta(minutes=30),
        end=start + timedelta(days=1),
    )
    assert statement.opening == dzd("100000")  # the cash-in before the period
    assert [line.amount for line in statement.lines] == [dzd("-1010"), dzd("-300")]
    assert statement.closing == dzd("98690")
    text = statements.wallet_statement_csv(statement)
    assert text.splitlines()[-1].endswith(",98690.00")


def test_merchant_statement_pdf_paginates_and_carries_its_title(world: World) -> None:
    from payments.statement_pdf import LINES_PER_PAGE, merchant_statement_pdf

    for i in range(LINES_PER_PAGE + 5):
        _sale(world, "10", f"s-{i}")
    statement = statements.merchant_daily_statement(
        world.session, POLICY, merchant_account_id=world.shop.id, day=world.now.date()
    )
    pdf = merchant_statement_pdf(statement, merchant_name="Epicerie El Bahdja")
    assert pdf.startswith(b"%PDF-")
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") == 2
    assert b"/Title (Merchant daily statement - Epicerie El Bahdja - 2026-03-01" in pdf
