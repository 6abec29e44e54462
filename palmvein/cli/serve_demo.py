"""``palmvein serve --demo``: seed demo data with the demo's own steps, then serve the pages on it.

The enrolment, payments and payroll demo steps run first (the same builders as ``palmvein
demo``); then the enrolled demo staff get wallets funded by the demo's cash-in agent, so a cashier
can sell to them at the counter page. The payroll month leaves a posted run whose pay-point
salaries are held (one released by palm, the bank ones sent by the bank file): the cashier and
the approver are assigned that pay point, so its salaries can be released on the pay-point page.
Palms are presented by simulated scanners whose URIs are listed, and offered on the pages, so
anyone can try a palm payment or a salary release without hardware.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from sqlalchemy import func, select

from palmvein.cli.common import console, transaction
from palmvein.cli.demo_cmd import (
    DEMO_PASSWORD,
    DemoContext,
    step_database,
    step_enrolment,
    step_payments,
    step_payroll,
    step_staff,
)
from palmvein.core.db import create_db_engine, utcnow
from palmvein.core.money import Money
from palmvein.core.settings import Settings

DEMO_CURRENCY = "DZD"
# The payer's palm at the counter: a later capture session than the enrolment's.
COUNTER_SESSION = 2


@dataclass(frozen=True)
class DemoPayer:
    name: str
    scanner: str


@dataclass(frozen=True)
class DemoSalary:
    """A held salary of the demo month and the scanner that presents its employee's palm."""

    employee_number: str
    name: str
    pay_point: str
    scanner: str


def _payer_scanner(seed: int, identity: int) -> str:
    return f"sim://?seed={seed}&identity={identity}&session={COUNTER_SESSION}"


def seed_demo(settings: Settings) -> tuple[int, list[DemoPayer], list[DemoSalary]]:
    """Run the demo steps, fund the enrolled staff's wallets; (merchant account id, payers,
    held pay-point salaries of demo palms)."""
    from matcher.models import Person
    from payments import ledger, service
    from payments.models import Account, AccountKind
    from payments.policy import DEFAULT_POLICY

    engine = create_db_engine(settings.database_url)
    ctx = DemoContext(settings=settings, engine=engine, started_at=utcnow())
    try:
        for step in (step_database, step_staff):
            ctx.results.append(step(ctx))
        with transaction(engine) as session:
            # step_enrolment picks its sensor seed the same way (one population per run).
            seed = 2026 + int(session.scalar(select(func.count()).select_from(Person)) or 0)
        for step in (step_enrolment, step_payments, step_payroll):
            ctx.results.append(step(ctx))
        payers: list[DemoPayer] = []
        with transaction(engine) as session:
            def newest(kind: AccountKind, prefix: str) -> Account:
                account = session.scalars(
                    select(Account).where(Account.kind == kind.value,
                                          Account.owner_id.like(f"{prefix}%"))
                    .order_by(Account.id.desc()).limit(1)).one()
                return account

            shop = newest(AccountKind.MERCHANT, "epicerie-demo-")
            agent = newest(AccountKind.AGENT_FLOAT, "poste-demo-")
            people = session.scalars(
                select(Person).where(Person.external_ref.like(f"demo-{seed}-%"),
                                     Person.enrolled_at.is_not(None))
                .order_by(Person.external_ref)).all()
            now = utcnow()
            for person in people:
                identity = int(str(person.external_ref).rsplit("-", 1)[1])
                # The payroll month may have opened one already (a salary released to it).
                wallet = ledger.find_account(
                    session, owner_type="person", owner_id=person.id, kind=AccountKind.WALLET,
                    currency=DEMO_CURRENCY) or service.open_wallet(
                        session, person_id=person.id, currency=DEMO_CURRENCY,
                        phone="+213555000900", now=now)
                service.cash_in(session, DEFAULT_POLICY, agent_account_id=agent.id,
                                wallet_account_id=wallet.id,
                                amount=Money.of("20000", DEMO_CURRENCY), initiator="demo",
                                now=now)
                payers.append(DemoPayer(person.display_name, _payer_scanner(seed, identity)))
            shop_id = shop.id
            salaries = _held_salaries(session, seed)
    finally:
        engine.dispose()
    return shop_id, payers, salaries


def _held_salaries(session: Any, seed: int) -> list[DemoSalary]:
    from matcher.demo import demo_palm
    from matcher.models import Person
    from payroll.models import Employee, PayChannel, Payment, PaymentStatus

    rows = session.execute(
        select(Employee, Person)
        .join(Payment, Payment.employee_id == Employee.id)
        .join(Person, Person.id == Employee.subject_id)
        .where(Payment.status == PaymentStatus.HELD.value,
               Payment.channel == PayChannel.PAY_POINT.value,
               Person.external_ref.like(f"demo-{seed}-%"))
        .order_by(Employee.employee_number)).all()
    salaries = []
    for employee, person in rows:
        palm = demo_palm(person.external_ref)
        if palm is not None:
            salaries.append(DemoSalary(
                employee.employee_number, employee.name_latin, employee.pay_point,
                f"usb-emulated://?seed={palm[0]}&identity={palm[1]}&session=3&hand_at=80"))
    return salaries


def prepare_demo_pages(settings: Settings, base_url: str) -> None:
    """Seed, point the pages at the demo merchant and scanners, print how to try them."""
    if settings.is_production:
        from palmvein.cli.errors import CliError
        from palmvein.cli.exit_codes import ExitCode

        raise CliError("--demo creates accounts with a known password; not in production",
                       hint="unset PALMVEIN_ENVIRONMENT or use a scratch database",
                       code=ExitCode.CONFIG)
    console.print("Seeding demo data (staff, enrolled palms, a day at a shop) ...")
    shop_id, payers, salaries = seed_demo(settings)
    os.environ["PALMVEIN_UI_CASHIER_MERCHANTS"] = f"cashier={shop_id}"
    # The pay point where most held demo salaries wait; its salaries are the ones to release.
    points = [s.pay_point for s in salaries]
    pay_point = max(set(points), key=points.count) if points else ""
    salaries = [s for s in salaries if s.pay_point == pay_point]
    if pay_point:
        os.environ["PALMVEIN_UI_CASHIER_PAY_POINTS"] = ",".join(
            f"{user}={pay_point}" for user in ("cashier", "approver", "admin"))
    scanners = (["usb-emulated://?hand_at=80&identity=0"] + [p.scanner for p in payers]
                + [s.scanner for s in salaries])
    os.environ["PALMVEIN_UI_SCANNERS"] = " ".join(scanners)
    table = Table(title="palmvein pages (demo)", show_lines=False)
    table.add_column("who")
    table.add_column("sign in as")
    table.add_column("try")
    table.add_row("HR clerk", "clerk", f"{base_url}/ui/persons: enrol someone with the "
                  "emulated USB scanner (change identity= for another palm)")
    table.add_row("cashier", "cashier", f"{base_url}/ui/counter: choose a payer's scanner")
    for payer in payers:
        table.add_row("", "", f"pays as {payer.name}: {payer.scanner}")
    if pay_point:
        table.add_row("cashier at a pay point", "cashier",
                      f"{base_url}/ui/paypoint ({pay_point}): enter the employee number, choose "
                      "the palm's scanner (another's palm is refused)")
        for salary in salaries:
            table.add_row("", "", f"{salary.employee_number} ({salary.name}): {salary.scanner}")
        table.add_row("supervisor", "approver",
                      f"{base_url}/ui/paypoint: release by hand after 3 refused palms")
    table.add_row("payroll office", "officer, approver",
                  f"{base_url}/ui/payroll: the demo month's run (documents, bank file, release "
                  f"progress); {base_url}/ui/reports")
    table.add_row("administrator", "admin", "deletes people")
    console.print(table)
    console.print(f"Password for every demo account: {DEMO_PASSWORD}", highlight=False)
