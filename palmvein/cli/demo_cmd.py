"""``palmvein demo``: run what the system can do so far, end to end, on the configured database.

The demo is a list of steps (:data:`DEMO_STEPS`). Each step receives the :class:`DemoContext`,
does real work through the same services the API uses, and returns a :class:`StepResult` whose
facts end up in the summary table. Later packages add a step by appending one function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table
from sqlalchemy import Engine, text

from palmvein import migrate
from palmvein.cli.common import (
    JSON_HELP,
    console,
    display_url,
    load_settings,
    print_json,
    transaction,
)
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode
from palmvein.core import audit
from palmvein.core.db import create_db_engine, create_session_factory, utcnow
from palmvein.core.errors import TooManyAttempts
from palmvein.core.security.roles import Role
from palmvein.core.security.throttle import ThrottlePolicy
from palmvein.core.security.tokens import TokenKind, issue_token, read_token
from palmvein.core.security.users import authenticate, create_user, find_user
from palmvein.core.settings import Settings

# Demo accounts only exist outside production (the command refuses to run there).
DEMO_PASSWORD = "palmvein-demo-password"
DEMO_STAFF: tuple[tuple[str, str, Role], ...] = (
    ("admin", "Amina Admin", Role.ADMIN),
    ("clerk", "Karim HR Clerk", Role.HR_CLERK),
    ("officer", "Yasmine Payroll Officer", Role.PAYROLL_OFFICER),
    ("approver", "Omar Payroll Approver", Role.PAYROLL_APPROVER),
    ("cashier", "Rania Merchant Cashier", Role.MERCHANT_CASHIER),
    ("auditor", "Hassan Auditor", Role.AUDITOR),
)


@dataclass
class StepResult:
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    ok: bool = True


@dataclass
class DemoContext:
    settings: Settings
    engine: Engine
    started_at: datetime
    results: list[StepResult] = field(default_factory=list)


DemoStep = Callable[[DemoContext], StepResult]


def step_database(ctx: DemoContext) -> StepResult:
    before = migrate.current_revision(ctx.engine)
    migrate.upgrade(ctx.engine)
    after = migrate.current_revision(ctx.engine)
    return StepResult(
        "Database",
        [
            ("database", display_url(ctx.settings.database_url)),
            ("engine", ctx.engine.dialect.name),
            (
                "schema",
                f"{before or 'empty'} -> {after}" if before != after else f"{after} (latest)",
            ),
        ],
    )


def step_staff(ctx: DemoContext) -> StepResult:
    created, existing = [], []
    with transaction(ctx.engine) as session:
        for username, full_name, role in DEMO_STAFF:
            if find_user(session, username) is not None:
                existing.append(username)
                continue
            create_user(
                session,
                username=username,
                full_name=full_name,
                password=DEMO_PASSWORD,
                roles=frozenset({role}),
                actor="demo",
                now=utcnow(),
            )
            created.append(username)
    return StepResult(
        "Staff and roles",
        [
            ("created", ", ".join(created) or "none (all present)"),
            ("already present", ", ".join(existing) or "none"),
            ("password (demo only)", DEMO_PASSWORD),
            ("roles", ", ".join(r.value for r in Role)),
        ],
    )


def step_sign_in(ctx: DemoContext) -> StepResult:
    settings = ctx.settings
    policy = ThrottlePolicy(
        max_failures=settings.login_max_failures,
        window=timedelta(seconds=settings.login_window_seconds),
        lockout=timedelta(seconds=settings.login_lockout_seconds),
    )
    secret = settings.secret_key.get_secret_value()
    now = utcnow()
    with transaction(ctx.engine) as session:
        outcome = authenticate(
            session, "cashier", DEMO_PASSWORD, policy=policy, now=now, client="demo"
        )
        if outcome.user is None:
            raise CliError(
                "demo user 'cashier' could not sign in",
                hint="delete the demo database and run `palmvein demo` again",
            )
        token, _ = issue_token(
            secret,
            user_id=outcome.user.id,
            kind=TokenKind.ACCESS,
            now=now,
            lifetime=timedelta(minutes=settings.access_token_minutes),
        )
        claims = read_token(secret, token, kind=TokenKind.ACCESS, now=now)
    # A made-up account name, so the lock-out cannot touch a demo user.
    intruder = f"intruder-{now.strftime('%H%M%S%f')}"
    refused_after = 0
    for attempt in range(1, settings.login_max_failures + 2):
        try:
            with transaction(ctx.engine) as session:
                authenticate(session, intruder, "guess", policy=policy, now=now, client="demo")
        except TooManyAttempts as exc:
            refused_after = attempt - 1
            lock = exc.retry_after_seconds
            break
    else:
        raise CliError("login throttling did not engage", hint="this is a bug")
    return StepResult(
        "Sign-in",
        [
            ("cashier password login", f"ok, bearer token for user {claims.user_id}"),
            ("token lifetime", f"{settings.access_token_minutes} min"),
            ("throttling", f"{refused_after} wrong passwords, then locked for {lock} s"),
        ],
    )


def step_audit(ctx: DemoContext) -> StepResult:
    with transaction(ctx.engine) as session:
        audit.record(
            session,
            actor="demo",
            action="demo.run",
            entity_type="demo",
            entity_id=ctx.started_at.strftime("%Y%m%dT%H%M%S"),
            data={"steps": len(DEMO_STEPS)},
        )
        report = audit.verify_chain(session)
    tamper = _tamper_demonstration()
    return StepResult(
        "Audit log",
        [
            ("rows", str(report.rows)),
            ("chain", "intact" if report.ok else f"BROKEN: {report.findings[0].message}"),
            ("head", f"{report.head_seq}:{report.head_hash[:16]}..."),
            ("tamper test (scratch copy)", tamper),
        ],
        ok=report.ok,
    )


def _tamper_demonstration() -> str:
    """Edit a row of a scratch in-memory log and show that verification names it."""
    engine = create_db_engine("sqlite://")
    try:
        migrate.upgrade(engine)
        with transaction(engine) as session:
            for n in range(1, 6):
                audit.record(
                    session,
                    actor="demo",
                    action="payslip.issued",
                    entity_type="payslip",
                    entity_id=str(n),
                    data={"net_minor": 4_500_000},
                )
        with engine.begin() as connection:
            # What an attacker with write access would do: drop the guard, raise a salary.
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
            connection.execute(
                text("UPDATE audit_log SET data = :data WHERE seq = 3"),
                {"data": '{"net_minor":9900000}'},
            )
        with transaction(engine) as session:
            report = audit.verify_chain(session)
        return "; ".join(f.message for f in report.findings) or "NOT DETECTED"
    finally:
        engine.dispose()


# Steps run in this order; later packages append theirs (enrolment, payroll, payments, ...).
def step_enrolment(ctx: DemoContext) -> StepResult:
    """Enrol simulated staff through the matcher service and catch a planted duplicate."""
    from matcher.crypto import Keyring
    from matcher.demo import run_demo
    from matcher.repository import IndexFollower
    from matcher.service import MatcherService

    keyring = Keyring.from_environment(
        ctx.settings.secret_key.get_secret_value(), production=ctx.settings.is_production
    )
    from sqlalchemy import func, select

    from matcher.models import Person

    follower = IndexFollower(keyring)
    with transaction(ctx.engine) as session:
        follower.start(session)
        # Each run enrols a new simulated population (another sensor seed), so the demo can be
        # repeated on the same database without its staff showing up as duplicates of earlier runs.
        seed = 2026 + int(session.scalar(select(func.count()).select_from(Person)) or 0)
        report = run_demo(MatcherService(session, follower, actor="demo"), follower, seed=seed)
    return StepResult("Palm enrolment", report.facts, ok=report.duplicate_caught)


def step_payments(ctx: DemoContext) -> StepResult:
    """A day of business at a palm-enabled counter, through the payments services; one sale is
    made by a registered counter terminal signing its request to the HTTP API, then replayed."""
    from palmvein.cli.demo_counter import signed_counter_sale
    from payments.demo import CounterSetting, run_demo

    outcome: list[bool] = []

    def counter_sale(setting: CounterSetting) -> list[tuple[str, str]]:
        ok, facts = signed_counter_sale(ctx.settings, ctx.engine, setting)
        outcome.append(ok)
        return facts

    facts = run_demo(
        create_session_factory(ctx.engine),
        now=utcnow(),
        out_dir=Path("var"),
        counter_sale=counter_sale,
    )
    return StepResult("Payments", facts, ok=outcome == [True])


def step_payroll(ctx: DemoContext) -> StepResult:
    """A pay month: import, compute, maker-checker approval, posting, release by palm, reports."""
    from matcher.crypto import Keyring
    from matcher.repository import IndexFollower
    from payroll.demo import run_demo

    keyring = Keyring.from_environment(
        ctx.settings.secret_key.get_secret_value(), production=ctx.settings.is_production
    )
    follower = IndexFollower(keyring)
    with transaction(ctx.engine) as session:
        follower.start(session)
    facts = run_demo(
        create_session_factory(ctx.engine), now=utcnow(), out_dir=Path("var"), follower=follower
    )
    found = dict(facts)
    release = next((v for k, v in facts if k.startswith("release of ")), "")
    ok = (
        found.get("ledger check") == "balanced"
        and found.get("maker-checker", "").startswith("refused")
        and "a colleague's palm: wrong_person" in release
        and "own palm: released" in release
        and "again: nothing_held" in release
    )
    return StepResult("Payroll month", facts, ok=ok)


DEMO_STEPS: list[DemoStep] = [
    step_database,
    step_staff,
    step_sign_in,
    step_audit,
    step_enrolment,
    step_payments,
    step_payroll,
]


def demo(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """Run the end-to-end demo on the configured database (SQLite file by default)."""
    settings = load_settings()
    if settings.is_production:
        raise CliError(
            "the demo creates accounts with a known password; not in production",
            hint="unset PALMVEIN_ENVIRONMENT or use a scratch database",
            code=ExitCode.CONFIG,
        )
    engine = create_db_engine(settings.database_url)
    ctx = DemoContext(settings=settings, engine=engine, started_at=utcnow())
    try:
        for step in DEMO_STEPS:
            if not as_json:
                console.print(f"[bold cyan]>[/] {step.__name__.removeprefix('step_')} ...")
            ctx.results.append(step(ctx))
    finally:
        engine.dispose()
    ok = all(r.ok for r in ctx.results)
    if as_json:
        print_json(
            {
                "ok": ok,
                "steps": [
                    {"title": r.title, "ok": r.ok, "facts": dict(r.facts)} for r in ctx.results
                ],
            }
        )
    else:
        _print_summary(ctx, ok)
    if not ok:
        raise typer.Exit(ExitCode.INTEGRITY)


def _print_summary(ctx: DemoContext, ok: bool) -> None:
    table = Table(show_header=True, header_style="bold", expand=False, show_lines=True)
    table.add_column("step", style="bold")
    table.add_column("result")
    table.add_column("details")
    for result in ctx.results:
        status = "[green]ok[/]" if result.ok else "[red]FAILED[/]"
        details = "\n".join(f"[dim]{key}:[/] {value}" for key, value in result.facts)
        table.add_row(result.title, status, details)
    elapsed = (utcnow() - ctx.started_at).total_seconds()
    verdict = "[green]all steps passed[/]" if ok else "[red]some steps failed[/]"
    console.print(Panel.fit(table, title="palmvein demo", subtitle=f"{verdict} in {elapsed:.1f} s"))
    console.print(
        "Next: [bold]make serve[/], then sign in at http://127.0.0.1:8000/docs as "
        f"'admin' / '{DEMO_PASSWORD}'.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
