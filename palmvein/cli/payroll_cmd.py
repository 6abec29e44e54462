"""``palmvein payroll``: import employees, salary structures, monthly runs, control reports.

Every command that changes something names the staff user doing it (``--user`` or the
``PALMVEIN_USER`` environment variable); the user must exist, be active and hold the role the
step needs (officer makes, approver approves: maker-checker holds on the command line too).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from palmvein.cli.common import (
    JSON_HELP,
    console,
    database,
    load_settings,
    print_json,
    transaction,
)
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode
from palmvein.core.db import create_session_factory, utcnow
from palmvein.core.money import Money
from palmvein.core.security.roles import Role
from palmvein.core.security.users import find_user
from payroll import jobs, reports, runs, service
from payroll.documents_service import employer_from_settings, produce_bank_file
from payroll.models import Employee

payroll_app = typer.Typer(
    help="Payroll: employees, structures, runs, reports.", no_args_is_help=True
)
run_app = typer.Typer(
    help="Monthly payroll runs (open, compute, submit, approve, post).", no_args_is_help=True
)
report_app = typer.Typer(
    help="Control reports (ghost workers, shared palms...).", no_args_is_help=True
)
structure_app = typer.Typer(help="Salary structures per grade.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
UserOption = Annotated[
    str,
    typer.Option("--user", envvar="PALMVEIN_USER", help="Staff user doing this (PALMVEIN_USER)."),
]
RunId = Annotated[int, typer.Argument(help="Run id (see `palmvein payroll run list`).")]


def _check_staff(session: Any, username: str, *roles: Role) -> str:
    user = find_user(session, username)
    if user is None or not user.is_active:
        raise CliError(
            f"no active staff user {username!r}",
            hint="create one with `palmvein users create`",
            code=ExitCode.DENIED,
        )
    if not user.roles & set(roles):
        wanted = " or ".join(r.value for r in roles)
        raise CliError(
            f"{username} does not have the role {wanted}",
            hint="ask an admin for the role",
            code=ExitCode.DENIED,
        )
    return user.username


@contextmanager
def _progress(label: str, total: int | None, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda _n: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _money(minor: int, currency: str) -> str:
    return str(Money(minor, currency))


# -- import -----------------------------------------------------------------------------------


@payroll_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="Employee file, .csv or .xlsx.", exists=True)],
    user: UserOption,
    currency: Annotated[str, typer.Option(help="Currency of the amounts in the file.")] = "DZD",
    check_only: Annotated[
        bool, typer.Option("--check", help="Report problems, book nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import (or update by employee number) every employee of FILE, all or nothing.

    Every problem is reported with its row and column; a file with any problem books nothing.
    """
    settings = load_settings()
    with database(settings) as engine, transaction(engine) as session:
        actor = _check_staff(session, user, Role.HR_CLERK, Role.PAYROLL_OFFICER)
        records, report = service.check_import(session, file, currency=currency)
        if not report.problems and not check_only:
            with _progress("importing", len(records), not as_json) as advance:
                report = service.import_employees(
                    session, records, rows=report.rows, actor=actor, now=utcnow(),
                    on_progress=advance,
                )  # fmt: skip
    if as_json:
        print_json(report.as_dict())
    else:
        _print_import(report, check_only)
    if report.problems:
        raise typer.Exit(ExitCode.INVALID)


def _print_import(report: service.ImportReport, check_only: bool) -> None:
    if report.problems:
        table = Table(title=f"{len(report.problems)} problem(s): nothing was imported")
        table.add_column("row", justify="right")
        table.add_column("column")
        table.add_column("problem")
        for p in report.problems:
            table.add_row(str(p.row), p.field, p.message)
        console.print(table)
        return
    if check_only:
        console.print(f"{report.rows} rows checked: no problem (nothing booked, --check)")
        return
    console.print(
        f"{report.rows} rows imported: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged",
        highlight=False,
    )


# -- structures -------------------------------------------------------------------------------


@structure_app.command("add")
def structure_add(
    grade: Annotated[str, typer.Argument(help="Grade code the structure pays.")],
    definition: Annotated[Path, typer.Argument(help="JSON definition (see payroll/README.md).")],
    user: UserOption,
    effective_from: Annotated[str, typer.Option("--from", help="First day in force, YYYY-MM-DD.")],
    currency: Annotated[str, typer.Option(help="Currency of the structure.")] = "DZD",
    as_json: JsonOption = False,
) -> None:
    """Add a salary structure for GRADE, in force from --from."""
    try:
        start = date.fromisoformat(effective_from)
        body = json.loads(definition.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise CliError(
            str(exc), hint="--from is YYYY-MM-DD; the file is JSON", code=ExitCode.INVALID
        ) from exc
    with database(load_settings()) as engine, transaction(engine) as session:
        actor = _check_staff(session, user, Role.PAYROLL_OFFICER)
        row = service.add_structure(
            session, grade=grade, currency=currency, effective_from=start, definition=body,
            actor=actor, now=utcnow(),
        )  # fmt: skip
        result = {"id": row.id, "grade": grade, "effective_from": start.isoformat()}
    if as_json:
        print_json(result)
    else:
        console.print(f"structure {result['id']} for grade {grade} from {start}", highlight=False)


# -- runs -------------------------------------------------------------------------------------


def _show(summary: runs.RunSummary, as_json: bool, limit: int = 20) -> None:
    if as_json:
        print_json(summary.as_dict())
        return
    c = summary.currency
    table = Table(title=f"Payroll run {summary.id}: {summary.period} ({summary.status.value})")
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row(
        "employees", f"{summary.employees} ({summary.payable} payable, {summary.excluded} excluded)"
    )
    table.add_row("gross", _money(summary.gross, c))
    table.add_row("deductions", _money(summary.deductions, c))
    table.add_row("net", _money(summary.net, c))
    table.add_row("employer contributions", _money(summary.employer_contributions, c))
    table.add_row("posted", f"{summary.posted} payments, {_money(summary.posted_net, c)}")
    table.add_row(
        "made / approved by", f"{summary.submitted_by or '-'} / {summary.approved_by or '-'}"
    )
    counts = ", ".join(f"{k} {v}" for k, v in summary.problem_counts.items()) or "none"
    table.add_row("problems", counts)
    console.print(table)
    if summary.problems:
        problems = Table(title=f"Problems (first {min(limit, len(summary.problems))})")
        for column in ("employee", "problem", "blocks pay", "detail"):
            problems.add_column(column)
        for p in summary.problems[:limit]:
            problems.add_row(
                p.employee_number, p.kind.value, "yes" if p.blocking else "no", p.message
            )
        console.print(problems)


@run_app.command("open")
def run_open(
    period: Annotated[str, typer.Argument(help="Pay period, YYYY-MM.")],
    user: UserOption,
    currency: Annotated[str, typer.Option(help="Currency paid.")] = "DZD",
    as_json: JsonOption = False,
) -> None:
    """Open a payroll run for PERIOD."""
    with database(load_settings()) as engine, transaction(engine) as session:
        actor = _check_staff(session, user, Role.PAYROLL_OFFICER)
        run = runs.open_run(session, period=period, currency=currency, actor=actor, now=utcnow())
        summary = runs.summarize(session, run.id)
    _show(summary, as_json)


@run_app.command("compute")
def run_compute(
    run_id: RunId,
    user: UserOption,
    problems: Annotated[int, typer.Option(help="How many problems to list.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Compute every payslip and list every problem (the preview); may be repeated."""
    with database(load_settings()) as engine, transaction(engine) as session:
        actor = _check_staff(session, user, Role.PAYROLL_OFFICER)
        total = session.scalar(
            select(func.count()).select_from(Employee).where(Employee.status != "left")
        )
        with _progress("computing", int(total or 0), not as_json) as advance:
            runs.compute_run(session, run_id, actor=actor, now=utcnow(), on_progress=advance)
        summary = runs.summarize(session, run_id, problem_limit=None if as_json else problems)
    _show(summary, as_json, problems)


def _step(action: Callable[..., Any], role: Role) -> Callable[..., None]:
    def command(run_id: RunId, user: UserOption, as_json: JsonOption = False) -> None:
        with database(load_settings()) as engine, transaction(engine) as session:
            actor = _check_staff(session, user, role)
            action(session, run_id, actor=actor, now=utcnow())
            summary = runs.summarize(session, run_id, problem_limit=0)
        _show(summary, as_json)

    return command


run_app.command("submit", help="Submit a computed run for approval (payroll officer).")(
    _step(runs.submit_run, Role.PAYROLL_OFFICER)
)
run_app.command(
    "approve", help="Approve a submitted run (a payroll approver other than the submitter)."
)(_step(runs.approve_run, Role.PAYROLL_APPROVER))


@run_app.command("post")
def run_post(
    run_id: RunId,
    user: UserOption,
    batch_size: Annotated[
        int, typer.Option(min=1, max=20000, help="Employees per transaction.")
    ] = runs.DEFAULT_BATCH,
    as_json: JsonOption = False,
) -> None:
    """Book an approved run in the ledger, batch by batch; run it again to resume."""
    with database(load_settings()) as engine:
        with transaction(engine) as session:
            actor = _check_staff(session, user, Role.PAYROLL_APPROVER)
            before = runs.summarize(session, run_id, problem_limit=0)
        with _progress("posting", before.payable - before.posted, not as_json) as advance:
            summary = jobs.post_run(
                create_session_factory(engine), run_id, actor=actor, now=utcnow,
                batch_size=batch_size, on_progress=advance,
            )  # fmt: skip
    _show(summary, as_json)


@run_app.command("bank-file")
def run_bank_file(
    run_id: RunId,
    user: UserOption,
    out: Annotated[Path, typer.Option("--out", help="Where to write the file.")],
    file_format: Annotated[
        str, typer.Option("--format", help="csv or pain001 (ISO 20022 XML).")
    ] = "pain001",
    execution_date: Annotated[
        str | None, typer.Option(help="Requested execution date YYYY-MM-DD (default: today).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Produce a posted run's bank transfer file: its bank-paid salaries are booked to bank
    clearing (transferred) the first time; producing it again books nothing."""
    if file_format not in ("csv", "pain001"):
        raise CliError("--format is csv or pain001", code=ExitCode.USAGE)
    when = date.fromisoformat(execution_date) if execution_date else None
    settings = load_settings()
    with database(settings) as engine, transaction(engine) as session:
        actor = _check_staff(session, user, Role.PAYROLL_OFFICER, Role.PAYROLL_APPROVER)
        produced = produce_bank_file(
            session, run_id, employer_from_settings(settings),
            file_format="csv" if file_format == "csv" else "pain001",
            actor=actor, now=utcnow(), execution_date=when,
        )  # fmt: skip
    out.write_bytes(produced.content)
    settled = produced.settlement
    facts = {
        "run_id": run_id,
        "file": str(out),
        "booked_now": settled.booked,
        "transferred": settled.transferred,
        "transferred_amount": _money(settled.transferred_amount, settled.currency),
        "currency": settled.currency,
        "first_produced_at": settled.transferred_at.isoformat() if settled.transferred_at else None,
        "first_produced_by": settled.transferred_by,
    }
    if as_json:
        print_json(facts)
        return
    console.print(
        f"{out}: {settled.transferred} transfers, {facts['transferred_amount']}; "
        f"booked now: {settled.booked}"
    )


@run_app.command("cancel")
def run_cancel(
    run_id: RunId,
    user: UserOption,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")],
    as_json: JsonOption = False,
) -> None:
    """Cancel a run before any salary is released; posted money is reversed by new entries."""
    with database(load_settings()) as engine, transaction(engine) as session:
        actor = _check_staff(session, user, Role.PAYROLL_OFFICER, Role.PAYROLL_APPROVER)
        summary = runs.cancel_run(session, run_id, actor=actor, reason=reason, now=utcnow())
    _show(summary, as_json)


@run_app.command("show")
def run_show(
    run_id: RunId,
    problems: Annotated[int, typer.Option(help="How many problems to list.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show a run's totals and problems."""
    with database(load_settings()) as engine, transaction(engine) as session:
        summary = runs.summarize(session, run_id, problem_limit=None if as_json else problems)
    _show(summary, as_json, problems)


@run_app.command("list")
def run_list(as_json: JsonOption = False) -> None:
    """List payroll runs, newest first."""
    with database(load_settings()) as engine, transaction(engine) as session:
        rows = [
            {"id": r.id, "period": r.period, "currency": r.currency, "status": r.status,
             "opened_by": r.opened_by, "approved_by": r.approved_by}
            for r in runs.list_runs(session)
        ]  # fmt: skip
    if as_json:
        print_json(rows)
        return
    table = Table(title="Payroll runs")
    for column in ("id", "period", "currency", "status", "opened_by", "approved_by"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(
                str(row[c] or "-")
                for c in ("id", "period", "currency", "status", "opened_by", "approved_by")
            )
        )
    console.print(table)


# -- reports ----------------------------------------------------------------------------------


def _report(
    title: str, rows: list[dict[str, Any]], as_json: bool, columns: tuple[str, ...] = ()
) -> None:
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"{title}: none")
        return
    table = Table(title=f"{title} ({len(rows)})")
    shown = columns or tuple(rows[0])
    for column in shown:
        table.add_column(column)
    for row in ({c: r[c] for c in shown} for r in rows):
        table.add_row(
            *(
                ", ".join(v) if isinstance(v, list | tuple) else str(v if v is not None else "-")
                for v in row.values()
            )
        )
    console.print(table)


@report_app.command("unclaimed")
def report_unclaimed(
    days: Annotated[int, typer.Option(min=0, help="Held at least this many days.")] = 30,
    as_json: JsonOption = False,
) -> None:
    """Salaries not collected N days after posting (a ghost-worker indicator)."""
    with database(load_settings()) as engine, transaction(engine) as session:
        rows = reports.as_rows(reports.unclaimed(session, older_than_days=days, now=utcnow()))
    columns = ("employee_number", "name_latin", "pay_point", "period", "amount", "days_unclaimed")
    _report(f"Salaries unclaimed after {days} days", rows, as_json, columns)


@report_app.command("shared-palms")
def report_shared(as_json: JsonOption = False) -> None:
    """One enrolled palm linked to several employee records."""
    with database(load_settings()) as engine, transaction(engine) as session:
        rows = reports.as_rows(reports.shared_palms(session))
    _report("Palms on several employee records", rows, as_json)


@report_app.command("never-enrolled")
def report_never(as_json: JsonOption = False) -> None:
    """Employees with no enrolled palm."""
    with database(load_settings()) as engine, transaction(engine) as session:
        rows = reports.as_rows(reports.never_enrolled(session))
    columns = ("employee_number", "name_latin", "unit", "pay_point", "reason")
    _report("Employees never enrolled", rows, as_json, columns)


@report_app.command("history")
def report_history(
    employee_number: Annotated[str, typer.Argument(help="Employee number.")],
    as_json: JsonOption = False,
) -> None:
    """Every salary booked for an employee and how it was released."""
    with database(load_settings()) as engine, transaction(engine) as session:
        rows = reports.as_rows(reports.release_history(session, employee_number))
    columns = ("period", "amount", "status", "released_at", "channel", "supervisor_override_reason")
    _report(f"Release history of {employee_number}", rows, as_json, columns)


def register(app: typer.Typer) -> None:
    """Add the ``payroll`` command group to the root CLI."""
    payroll_app.add_typer(run_app, name="run")
    payroll_app.add_typer(report_app, name="report")
    payroll_app.add_typer(structure_app, name="structure")
    app.add_typer(payroll_app, name="payroll")


# -- benchmark --------------------------------------------------------------------------------


@payroll_app.command("bench")
def bench(
    employees: Annotated[int, typer.Option(min=1, help="Employees to compute and post.")] = 10_000,
    url: Annotated[
        str | None,
        typer.Option(help="Database URL (a database without employees); default: configured."),
    ] = None,
    fresh_postgres: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL server URL: create a scratch database there, run, drop it.",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Employees per posting transaction.")
    ] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Import, compute and post N generated employees and print the measured seconds."""
    import secrets

    from sqlalchemy.engine import make_url

    from palmvein import migrate
    from palmvein.core.db import create_db_engine
    from payroll.bench import run_benchmark

    scratch: str | None = None
    admin: Any = None
    if fresh_postgres is not None:
        import psycopg

        server = make_url(fresh_postgres)
        scratch = f"palmvein_bench_{secrets.token_hex(4)}"
        admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{scratch}"')
        target = server.set(database=scratch).render_as_string(hide_password=False)
    else:
        target = url or load_settings().database_url
    engine = create_db_engine(target)
    try:
        migrate.upgrade(engine)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as bars:
            tasks: dict[str, Any] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bars.add_task(stage, total=total)
                bars.update(tasks[stage], completed=done)

            result = run_benchmark(
                create_session_factory(engine), employees=employees, batch_size=batch_size,
                progress=progress,
            )  # fmt: skip
    finally:
        engine.dispose()
        if scratch is not None:
            import psycopg

            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    data = {**result.__dict__, "compute_and_post_s": result.compute_and_post_s}
    if as_json:
        print_json(data)
        return
    table = Table(title=f"palmvein payroll bench: {employees:,} employees on {result.backend}")
    table.add_column("stage", style="bold")
    table.add_column("seconds", justify="right")
    table.add_column("rate", justify="right")
    table.add_row("generate + check rows", f"{result.generate_and_check_s:.2f}", "")
    table.add_row("import (insert employees)", f"{result.import_s:.2f}", "")
    table.add_row(
        "compute (payslips + problems)",
        f"{result.compute_s:.2f}",
        f"{result.payslips_per_s_compute:,.0f}/s",
    )
    table.add_row(
        f"post (batches of {batch_size})",
        f"{result.post_s:.2f}",
        f"{result.payslips_per_s_post:,.0f}/s",
    )
    table.add_row("compute + post", f"{result.compute_and_post_s:.2f}", "target <= 60 s at 100,000")
    table.add_row(
        "ledger check",
        "ok" if result.ledger_problems == 0 else f"{result.ledger_problems} problems",
        "",
    )
    console.print(table)
