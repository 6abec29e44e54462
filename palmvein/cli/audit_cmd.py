"""``palmvein audit``: verify the hash-chained audit log."""

from __future__ import annotations

from typing import Annotated

import typer

from palmvein.cli.common import JSON_HELP, console, database, load_settings, print_json, transaction
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode
from palmvein.core.audit import Anchor, verify_chain

audit_app = typer.Typer(help="The append-only audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    anchor: Annotated[
        str | None,
        typer.Option(
            "--anchor",
            help="SEQ:HASH of a head recorded earlier (from a previous verify); detects rows "
            "cut from the end.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Check every row of the audit log; exit code 9 names each edited, inserted or deleted row."""
    try:
        parsed = Anchor.parse(anchor) if anchor else None
    except ValueError as exc:
        raise CliError(
            str(exc), hint="copy head_seq:head_hash from an earlier verify", code=ExitCode.USAGE
        ) from None
    settings = load_settings()
    with database(settings) as engine, transaction(engine) as session:
        report = verify_chain(session, anchor=parsed)
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "rows": report.rows,
                "head_seq": report.head_seq,
                "head_hash": report.head_hash,
                "findings": [
                    {"kind": f.kind.value, "seq": f.seq, "message": f.message}
                    for f in report.findings
                ],
            }
        )
    elif report.ok:
        console.print(
            f"[green]Audit log intact[/]: {report.rows} rows, head {report.head_seq}:"
            f"{report.head_hash}"
        )
    else:
        console.print(
            f"[red]Audit log broken[/]: {len(report.findings)} finding(s) in {report.rows} rows"
        )
        for finding in report.findings:
            console.print(f"  - {finding.kind.value}: {finding.message}")
    if not report.ok:
        raise typer.Exit(ExitCode.INTEGRITY)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
