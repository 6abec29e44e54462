"""Wallet operations as the people at the counter see them, with a tariff stated in the test."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import unit_of_work
from palmvein.core.errors import ValidationFailed
from palmvein.core.money import Money
from payments import ledger, service
from payments.errors import (
    BillerNotFound,
    DuplicateClientReference,
    InsufficientFunds,
    InvalidAmount,
    InvalidBillReference,
    LimitExceeded,
    OperationNotFound,
    OperationNotReversible,
)
from payments.models import OperationStatus

from ..conftest import FakeClock
from .conftest import AMINA_PHONE, KARIM_PHONE, POLICY, World, dzd


def test_cash_in_credits_the_wallet_from_the_agents_float(world: World) -> None:
    assert world.available(world.amina) == dzd("100000")
    assert world.available(world.agent) == dzd("900000")
    assert world.sms_to(AMINA_PHONE) == [
        f"palmvein: 100,000.00 DZD received (cash in). Ref {_ref(world)}"
    ]


def _ref(world: World) -> str:
    from payments.models import Operation

    operation = world.session.scalars(
        select(Operation).where(Operation.type == "cash_in").order_by(Operation.created_at)
    ).first()
    assert operation is not None
    return str(operation.id)[:8]


def test_p2p_transfer_charges_the_sender_a_fee_and_tells_both(world: World) -> None:
    operation = service.transfer_p2p(
        world.session,
        POLICY,
        from_wallet_id=world.amina.id,
        to_wallet_id=world.karim.id,
        amount=dzd("2500"),
        initiator="app:amina",
        now=world.now,
        client_reference="rent-march",
    )
    world.session.commit()
    # Fee 1 % of 2 500 = 25 DZD, above the 10 DZD minimum.
    assert Money(operation.fee, "DZD") == dzd("25")
    assert world.available(world.amina) == dzd("97475")
    assert world.available(world.karim) == dzd("2500")
    assert world.fees() == dzd("25")
    assert world.sms_to(AMINA_PHONE)[-1].startswith(
        "palmvein: p2p transfer 2,500.00 DZD + fee 25.00 DZD debited. Available: 97,475.00 DZD."
    )
    assert world.sms_to(KARIM_PHONE)[-1].startswith("palmvein: 2,500.00 DZD received")
    found = service.operation_by_client_reference(
        world.session, initiator="app:amina", client_reference="rent-march"
    )
    assert found.id == operation.id and found.status == OperationStatus.COMPLETED

    # Small transfers pay the 10 DZD minimum.
    small = service.transfer_p2p(
        world.session,
        POLICY,
        from_wallet_id=world.amina.id,
        to_wallet_id=world.karim.id,
        amount=dzd("100"),
        initiator="app:amina",
        now=world.now,
    )
    assert Money(small.fee, "DZD") == dzd("10")


def test_a_client_reference_is_used_once_and_answers_status_queries(world: World) -> None:
    with pytest.raises(OperationNotFound, match="nothing was booked"):
        service.operation_by_client_reference(
            world.session, initiator="app:amina", client_reference="r-1"
        )
    kwargs = {
        "from_wallet_id": world.amina.id,
        "to_wallet_id": world.karim.id,
        "amount": dzd("100"),
        "initiator": "app:amina",
        "client_reference": "r-1",
    }
    service.transfer_p2p(world.session, POLICY, now=world.now, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(DuplicateClientReference):
        service.transfer_p2p(world.session, POLICY, now=world.now, **kwargs)  # type: ignore[arg-type]


def test_transfer_limits_per_transaction_and_per_day(world: World) -> None:
    def send(amount: str) -> None:
        service.transfer_p2p(
            world.session,
            POLICY,
            from_wallet_id=world.amina.id,
            to_wallet_id=world.karim.id,
            amount=dzd(amount),
            initiator="app:amina",
            now=world.now,
        )

    with pytest.raises(LimitExceeded, match="per-transaction limit of 20,000.00 DZD"):
        send("20000.01")
    send("20000")
    with pytest.raises(LimitExceeded, match="daily limit of 30,000.00 DZD"):
        send("10000.01")
    send("10000")
    world.session.commit()
    world.clock.advance(days=1)
    send("20000")  # a new business day
    assert world.available(world.karim) == dzd("50000")


def test_bad_amounts_are_refused_and_book_nothing(world: World) -> None:
    for amount, error in [
        (dzd("0"), InvalidAmount),
        (dzd("-5"), InvalidAmount),
        (Money(10**15 + 1, "DZD"), InvalidAmount),
        (Money(500, "EUR"), InvalidAmount),
    ]:
        with pytest.raises(error):
            service.transfer_p2p(
                world.session,
                POLICY,
                from_wallet_id=world.amina.id,
                to_wallet_id=world.karim.id,
                amount=amount,
                initiator="app:amina",
                now=world.now,
            )
    with pytest.raises(ValidationFailed, match="more than 2 decimal places"):
        Money.of("1.005", "DZD")
    assert world.available(world.karim) == dzd("0")
    assert ledger.verify_ledger(world.session) == []


def test_cash_out_is_capped_at_50000_dzd_per_person_per_day(world: World) -> None:
    def cash_out(amount: str) -> None:
        service.cash_out(
            world.session,
            POLICY,
            wallet_account_id=world.amina.id,
            agent_account_id=world.agent.id,
            amount=dzd(amount),
            initiator="agent:poste-bab-ezzouar",
            now=world.now,
        )

    cash_out("30000")
    cash_out("20000")
    with pytest.raises(LimitExceeded, match="daily cash-out cap of 50,000.00 DZD"):
        cash_out("0.01")
    world.session.commit()
    # Two cash-outs of 50 DZD fee each.
    assert world.available(world.amina) == dzd("49900")
    assert world.fees() == dzd("100")
    world.clock.advance(days=1)
    cash_out("100")


def test_the_business_day_is_local_time_in_algiers(clock: FakeClock) -> None:
    # 23:30 UTC on 1 March is 00:30 on 2 March in Algiers (UTC+1): a new day for the caps.
    start, end = POLICY.business_day(clock.now.replace(hour=23, minute=30))
    assert (start.day, start.hour, end.day) == (2, 0, 3)


def test_bill_payment_needs_a_registered_biller_and_a_valid_reference(world: World) -> None:
    service.register_biller(
        world.session,
        code="sonelgaz",
        name="Sonelgaz electricity",
        category="electricity",
        currency="DZD",
        reference_pattern=r"\d{12}",
        now=world.now,
    )

    def pay(biller: str, reference: str) -> None:
        service.pay_bill(
            world.session,
            POLICY,
            wallet_account_id=world.amina.id,
            biller_code=biller,
            bill_reference=reference,
            amount=dzd("3450.75"),
            initiator="app:amina",
            now=world.now,
        )

    with pytest.raises(BillerNotFound):
        pay("seaal", "123456789012")
    with pytest.raises(InvalidBillReference):
        pay("sonelgaz", "12345")
    pay("sonelgaz", "123456789012")
    world.session.commit()
    assert world.available(world.amina) == dzd("96529.25")  # 3 450.75 + 20 fee
    assert world.fees() == dzd("20")


def _purchase(world: World, amount: str) -> service.Operation:
    return service.purchase(
        world.session,
        POLICY,
        payer_wallet_id=world.amina.id,
        merchant_account_id=world.shop.id,
        amount=dzd(amount),
        initiator="device:T-1",
        now=world.now,
    )


def test_purchase_pays_the_merchant_less_its_fee(world: World) -> None:
    operation = _purchase(world, "1200")
    world.session.commit()
    assert operation.status == OperationStatus.COMPLETED
    assert world.available(world.amina) == dzd("98800")
    assert world.available(world.shop) == dzd("1188")
    assert world.fees() == dzd("12")
    assert world.sms_to(AMINA_PHONE)[-1].startswith("palmvein: purchase 1,200.00 DZD debited.")


def test_void_on_the_same_day_restores_everyone(world: World) -> None:
    sale = _purchase(world, "1200")
    service.void_purchase(
        world.session, POLICY, operation_id=sale.id, initiator="device:T-1", now=world.now
    )
    world.session.commit()
    assert sale.status == OperationStatus.VOIDED
    assert world.available(world.amina) == dzd("100000")
    assert world.available(world.shop) == dzd("0")
    assert world.fees() == dzd("0")
    with pytest.raises(OperationNotReversible, match="already voided"):
        service.void_purchase(
            world.session, POLICY, operation_id=sale.id, initiator="x", now=world.now
        )


def test_void_is_refused_the_next_day_and_after_settlement(world: World) -> None:
    first = _purchase(world, "100")
    service.settle_merchant(
        world.session, POLICY, merchant_account_id=world.shop.id, initiator="ops", now=world.now
    )
    with pytest.raises(OperationNotReversible, match="settled"):
        service.void_purchase(
            world.session, POLICY, operation_id=first.id, initiator="x", now=world.now
        )
    second = _purchase(world, "100")
    world.clock.advance(days=1)
    with pytest.raises(OperationNotReversible, match="another business day"):
        service.void_purchase(
            world.session, POLICY, operation_id=second.id, initiator="x", now=world.now
        )


def test_refunds_never_total_more_than_the_sale(world: World) -> None:
    sale = _purchase(world, "1000")

    def refund(amount: str) -> None:
        service.refund_purchase(
            world.session,
            POLICY,
            operation_id=sale.id,
            amount=dzd(amount),
            initiator="device:T-1",
            now=world.now,
        )

    refund("400")
    refund("500")
    with pytest.raises(OperationNotReversible, match="900.00 DZD already refunded"):
        refund("100.01")
    refund("100")
    world.session.commit()
    # Everyone is back where they started: the 10 DZD fee went back to the merchant pro rata.
    assert world.available(world.amina) == dzd("100000")
    assert world.available(world.shop) == dzd("0")
    assert world.fees() == dzd("0")
    assert ledger.verify_ledger(world.session) == []


def test_a_refund_needs_the_merchants_money(world: World) -> None:
    sale = _purchase(world, "1000")
    service.settle_merchant(
        world.session, POLICY, merchant_account_id=world.shop.id, initiator="ops", now=world.now
    )
    with pytest.raises(InsufficientFunds):
        service.refund_purchase(
            world.session,
            POLICY,
            operation_id=sale.id,
            amount=dzd("1"),
            initiator="device:T-1",
            now=world.now,
        )


def test_an_authorisation_that_is_never_captured_expires(world: World) -> None:
    sale = service.authorize_purchase(
        world.session,
        POLICY,
        payer_wallet_id=world.amina.id,
        merchant_account_id=world.shop.id,
        amount=dzd("700"),
        initiator="device:T-1",
        now=world.now,
    )
    assert world.available(world.amina) == dzd("99300")
    world.clock.advance(minutes=16)
    assert service.expire_authorizations(world.session, now=world.now) == 1
    world.session.commit()
    assert sale.status == OperationStatus.EXPIRED
    assert world.available(world.amina) == dzd("100000")
    assert ledger.verify_ledger(world.session) == []


def test_concurrent_cash_outs_respect_the_daily_cap_exactly(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    if world.session.get_bind().dialect.name != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL; SQLite serialises all writers")
    done: list[int] = []
    refused: list[Exception] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(index: int) -> None:
        barrier.wait()
        try:
            with unit_of_work(session_factory) as session:
                service.cash_out(
                    session,
                    POLICY,
                    wallet_account_id=world.amina.id,
                    agent_account_id=world.agent.id,
                    amount=dzd("10000"),
                    initiator="agent:poste-bab-ezzouar",
                    now=world.now,
                )
            done.append(index)
        except LimitExceeded as exc:
            refused.append(exc)
        except BaseException as exc:  # noqa: BLE001  (re-raised by the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert (len(done), len(refused)) == (5, 3)
    assert world.available(world.amina) == dzd("100000") - dzd("10050") * 5
