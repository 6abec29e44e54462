"""``palmvein users``: staff accounts."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from palmvein.cli.common import JSON_HELP, console, database, load_settings, print_json, transaction
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode
from palmvein.core.db import utcnow
from palmvein.core.security.roles import Role, parse_roles
from palmvein.core.security.users import LANGUAGE_CODES, create_user, list_users

users_app = typer.Typer(help="Staff user accounts.", no_args_is_help=True)
_ROLE_NAMES = ", ".join(r.value for r in Role)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError(
                "no password on standard input",
                hint="pipe it in: echo ... |",
                code=ExitCode.INVALID,
            )
        return password
    if not sys.stdin.isatty():
        raise CliError(
            "no terminal to ask for the password",
            hint="pass --password-stdin and pipe the password in",
            code=ExitCode.USAGE,
        )
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="Login name: a-z, 0-9, '.', '_', '-'.")],
    role: Annotated[
        list[str], typer.Option("--role", "-r", help=f"Role to grant (repeatable): {_ROLE_NAMES}.")
    ],
    full_name: Annotated[str, typer.Option("--full-name", help="Name shown in the UI.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            help=f"Language of the pages for this user: {', '.join(LANGUAGE_CODES)} "
            "(default: the browser's).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Create a staff user with one or more roles (the password is asked for, never an argument)."""
    try:
        roles = parse_roles(role)
    except ValueError as exc:
        raise CliError(
            str(exc), hint="use --role with one of the known roles", code=ExitCode.INVALID
        ) from None
    if not roles:
        raise CliError(
            "at least one --role is needed", hint=f"roles: {_ROLE_NAMES}", code=ExitCode.INVALID
        )
    if language is not None and language not in LANGUAGE_CODES:
        raise CliError(
            f"unknown language {language!r}",
            hint=f"use --language with one of {', '.join(LANGUAGE_CODES)}",
            code=ExitCode.INVALID,
        )
    password = _read_password(password_stdin)
    settings = load_settings()
    with database(settings) as engine, transaction(engine) as session:
        user = create_user(
            session,
            username=username,
            full_name=full_name or username,
            password=password,
            roles=roles,
            actor="cli",
            now=utcnow(),
            language=language,
        )
        result: dict[str, Any] = {
            "id": user.id,
            "username": user.username,
            "roles": sorted(r.value for r in user.roles),
            "language": user.language,
        }
    if as_json:
        print_json(result)
    else:
        console.print(
            f"Created staff user [bold]{result['username']}[/] (id {result['id']}) with roles "
            f"{', '.join(result['roles'])}."
        )


@users_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """List staff users, their roles and page language (none: the browser's)."""
    settings = load_settings()
    with database(settings) as engine, transaction(engine) as session:
        rows: list[dict[str, Any]] = [
            {
                "id": u.id,
                "username": u.username,
                "full_name": u.full_name,
                "roles": sorted(r.value for r in u.roles),
                "active": u.is_active,
                "language": u.language,
            }
            for u in list_users(session)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "username", "full name", "roles", "language", "active")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["username"]),
            str(row["full_name"]),
            ", ".join(row["roles"]),
            row["language"] or "-",
            "yes" if row["active"] else "no",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
