"""The payments part of ``palmvein demo``: a small day of business through the real services.

The composition root adds it as a demo step, for example::

    def step_payments(ctx: DemoContext) -> StepResult:
        from payments.demo import run_demo
        facts = run_demo(create_session_factory(ctx.engine), now=utcnow(), out_dir=Path("var"))
        return StepResult("Payments", facts)

Each run opens its own accounts (tagged with the run's time), so it can be repeated on the same
database. ``counter_sale``, when given, makes palm sales at the shop's counter the way a terminal
does (the composition root passes one that signs requests to the HTTP API); its facts join the
others and its sales appear in the statement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import unit_of_work
from palmvein.core.money import Money
from payments import ledger, outbox, service, statements
from payments.policy import DEFAULT_POLICY, PaymentsPolicy
from payments.sms import FileSmsSender


@dataclass(frozen=True)
class CounterSetting:
    """What a counter-sale step needs: the shop, an agent with float to fund the payer."""

    shop_account_id: int
    agent_account_id: int
    currency: str
    policy: PaymentsPolicy


CounterSale = Callable[[CounterSetting], list[tuple[str, str]]]


def run_demo(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    out_dir: Path,
    policy: PaymentsPolicy = DEFAULT_POLICY,
    counter_sale: CounterSale | None = None,
) -> list[tuple[str, str]]:
    """Cash-in, a transfer, a bill, three palm-less purchases, a void, a refund, a cash-out,
    the counter sales of ``counter_sale``, the SMS sent to a file, the merchant's statement as
    CSV; returns (label, value) facts."""
    tag = now.strftime("%Y%m%d%H%M%S%f")
    dzd = "DZD"

    def money(major: str) -> Money:
        return Money.of(major, dzd)

    with unit_of_work(factory) as session:
        agent = service.open_agent_account(
            session, agent_id=f"poste-demo-{tag}", currency=dzd, now=now
        )
        amina = service.open_wallet(
            session, person_id=f"demo-amina-{tag}", currency=dzd, phone="+213555000001", now=now
        )
        karim = service.open_wallet(
            session, person_id=f"demo-karim-{tag}", currency=dzd, phone="+213555000002", now=now
        )
        shop = service.open_merchant_account(
            session, merchant_id=f"epicerie-demo-{tag}", currency=dzd, now=now
        )
        biller = service.register_biller(
            session,
            code=f"sonelgaz-{tag[-8:]}",
            name="Sonelgaz (demo)",
            category="electricity",
            currency=dzd,
            reference_pattern=r"\d{12}",
            now=now,
        )
        service.fund_agent(
            session,
            policy,
            agent_account_id=agent.id,
            amount=money("500000"),
            initiator="demo",
            now=now,
        )
        service.cash_in(
            session,
            policy,
            agent_account_id=agent.id,
            wallet_account_id=amina.id,
            amount=money("60000"),
            initiator="demo",
            now=now,
        )
        service.transfer_p2p(
            session,
            policy,
            from_wallet_id=amina.id,
            to_wallet_id=karim.id,
            amount=money("5000"),
            initiator="demo",
            now=now,
        )
        service.pay_bill(
            session,
            policy,
            wallet_account_id=amina.id,
            biller_code=biller.code,
            bill_reference="123456789012",
            amount=money("3450.75"),
            initiator="demo",
            now=now,
        )
        sales = [
            service.purchase(
                session,
                policy,
                payer_wallet_id=payer.id,
                merchant_account_id=shop.id,
                amount=money(amount),
                initiator="demo",
                now=now,
            )
            for payer, amount in ((amina, "1200"), (karim, "850.50"), (amina, "2300"))
        ]
        service.void_purchase(session, policy, operation_id=sales[1].id, initiator="demo", now=now)
        service.refund_purchase(
            session,
            policy,
            operation_id=sales[2].id,
            amount=money("300"),
            initiator="demo",
            now=now,
        )
        service.cash_out(
            session,
            policy,
            wallet_account_id=karim.id,
            agent_account_id=agent.id,
            amount=money("2000"),
            initiator="demo",
            now=now,
        )
    counter_facts = (
        counter_sale(CounterSetting(shop.id, agent.id, dzd, policy)) if counter_sale else []
    )
    sms_file = out_dir / "sms-outbox.jsonl"
    sent = outbox.dispatch(factory, FileSmsSender(sms_file), now=now)
    with unit_of_work(factory) as session:
        statement = statements.merchant_daily_statement(
            session, policy, merchant_account_id=shop.id, day=policy.business_day(now)[0].date()
        )
        csv_file = out_dir / f"merchant-statement-{tag}.csv"
        csv_file.parent.mkdir(parents=True, exist_ok=True)
        csv_file.write_text(statements.merchant_statement_csv(statement), encoding="utf-8")
        problems = ledger.verify_ledger(session)
        balances = {
            name: ledger.balance_of(session, account.id).available
            for name, account in (("Amina", amina), ("Karim", karim), ("shop", shop))
        }
    return [
        *counter_facts,
        ("wallets", ", ".join(f"{name} {amount}" for name, amount in balances.items())),
        (
            "merchant day",
            (
                f"sales {statement.sales}, voids {statement.voids}, "
                f"refunds {statement.refunds}, fees {statement.fees}, net {statement.net}"
            ),
        ),
        ("statement", str(csv_file)),
        ("SMS sent", f"{sent.sent} to {sms_file}"),
        ("ledger check", "balanced" if not problems else f"{len(problems)} problem(s)"),
    ]
