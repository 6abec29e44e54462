"""Helpers shared by the command modules: settings, database, output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from palmvein import migrate
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode
from palmvein.core.db import create_db_engine, create_session_factory, unit_of_work
from palmvein.core.settings import Settings

console = Console()
JSON_HELP = "Print machine-readable JSON on stdout instead of text."


def load_settings() -> Settings:
    return Settings()


def display_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def database(settings: Settings, *, require_head: bool = True) -> Iterator[Engine]:
    """An engine on the configured database, disposed afterwards.

    With ``require_head`` the schema must be at the latest migration, otherwise the command stops
    with a hint to run ``palmvein db upgrade``.
    """
    engine = create_db_engine(settings.database_url)
    try:
        if require_head:
            current = migrate.current_revision(engine)
            head = migrate.head_revision()
            if current != head:
                raise CliError(
                    f"database schema is at {current or 'nothing'}, latest is {head}",
                    hint="run `palmvein db upgrade`",
                    code=ExitCode.DATABASE,
                )
        yield engine
    finally:
        engine.dispose()


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """The command's unit of work: committed if the block succeeds."""
    with unit_of_work(create_session_factory(engine)) as session:
        yield session


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))
