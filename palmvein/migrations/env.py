"""Alembic environment.

Used two ways: by ``palmvein db upgrade`` / the test fixtures, which pass an open connection in
``config.attributes["connection"]``, and by the ``alembic`` command line (``alembic.ini`` at the
repository root), which connects to ``PALMVEIN_DATABASE_URL``.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from palmvein.core.db import UtcDateTime, create_db_engine
from palmvein.core.settings import Settings
from palmvein.models_registry import metadata

config = context.config


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations must not import application types (they change; migrations are history), so
    # autogenerate writes the plain column type that UtcDateTime stores.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_item=_render_item,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables when needed.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=Settings().database_url,
        target_metadata=metadata,
        render_item=_render_item,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_db_engine(Settings().database_url)
    try:
        with engine.connect() as new_connection:
            _run(new_connection)
            new_connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
