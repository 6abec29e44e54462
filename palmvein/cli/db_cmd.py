"""``palmvein db``: schema migrations (the only way the schema is made)."""

from __future__ import annotations

from typing import Annotated

import typer

from palmvein import migrate
from palmvein.cli.common import JSON_HELP, console, database, display_url, load_settings, print_json

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Apply migrations up to REVISION (default: the latest). Safe to run repeatedly."""
    settings = load_settings()
    with database(settings, require_head=False) as engine:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine, revision)
        after = migrate.current_revision(engine)
    result = {
        "database": display_url(settings.database_url),
        "from_revision": before,
        "revision": after,
        "head": migrate.head_revision(),
        "changed": before != after,
    }
    if as_json:
        print_json(result)
        return
    if before == after:
        console.print(f"Database {result['database']} already at revision {after}.")
    else:
        console.print(
            f"Database {result['database']} upgraded from {before or 'empty'} to {after}."
        )


@db_app.command("current")
def current(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """Show the schema revision of the configured database and the latest one."""
    settings = load_settings()
    with database(settings, require_head=False) as engine:
        revision = migrate.current_revision(engine)
    head = migrate.head_revision()
    if as_json:
        print_json(
            {
                "database": display_url(settings.database_url),
                "revision": revision,
                "head": head,
                "up_to_date": revision == head,
            }
        )
        return
    state = "up to date" if revision == head else f"behind (latest is {head})"
    console.print(f"Database {display_url(settings.database_url)}: revision {revision}, {state}.")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
