"""``palmvein serve``: run the HTTP API with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from palmvein.cli.common import console, database, display_url, load_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default PALMVEIN_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default PALMVEIN_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    demo: Annotated[
        bool, typer.Option("--demo", help="Seed demo data first and serve the pages on it.")
    ] = False,
) -> None:
    """Serve the API (OpenAPI docs at /docs) and the web pages (/ui). The schema must be
    migrated first, except with --demo, which migrates and seeds the configured database."""
    import uvicorn

    settings = load_settings()
    bind_host = host or settings.host
    bind_port = port or settings.port
    if demo:
        from palmvein.cli.serve_demo import prepare_demo_pages

        prepare_demo_pages(settings, f"http://{bind_host}:{bind_port}")
    with database(settings):
        pass  # refuses to start on a database that is not at the latest migration
    console.print(
        f"palmvein on http://{bind_host}:{bind_port} (pages /ui, API docs /docs), database "
        f"{display_url(settings.database_url)}",
        highlight=False,
    )
    uvicorn.run(
        "palmvein.app:app_from_environment",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        access_log=False,
        log_config=None,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
