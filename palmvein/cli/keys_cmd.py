"""``palmvein keys``: template encryption keys (status, new key, rotation)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from palmvein.cli.common import JSON_HELP, console, database, load_settings, print_json, transaction
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from matcher.crypto import Keyring

keys_app = typer.Typer(help="Encryption keys of the stored palm templates.", no_args_is_help=True)


def _keyring() -> Keyring:
    from matcher.crypto import Keyring, KeyringError

    settings = load_settings()
    try:
        return Keyring.from_environment(
            settings.secret_key.get_secret_value(), production=settings.is_production
        )
    except KeyringError as exc:
        raise CliError(
            str(exc), hint="set PALMVEIN_TEMPLATE_KEYS=KEY_ID:BASE64[,...]", code=ExitCode.CONFIG
        ) from None


@keys_app.command("new")
def new_key_command(
    key_id: Annotated[str, typer.Argument(help="Id of the new key (e.g. the date).")],
) -> None:
    """Print a new random key as a PALMVEIN_TEMPLATE_KEYS entry (put it first, then rotate)."""
    from matcher.crypto import new_key

    print(f"{key_id}:{new_key()}")


@keys_app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """How many templates each key seals, and which key is active."""
    from matcher.repository import count_by_key

    keyring = _keyring()
    with database(load_settings()) as engine, transaction(engine) as session:
        counts = count_by_key(session)
    unknown = sorted(set(counts) - set(keyring.key_ids))
    if as_json:
        print_json(
            {
                "active": keyring.active,
                "configured": list(keyring.key_ids),
                "templates_by_key": counts,
                "unreadable_keys": unknown,
            }
        )
        return
    console.print(
        f"Active key: [bold]{keyring.active}[/]; configured: {', '.join(keyring.key_ids)}"
    )
    for kid, n in sorted(counts.items()):
        console.print(f"  {kid}: {n:,} templates")
    if unknown:
        console.print(f"[red]Templates sealed by keys not configured: {', '.join(unknown)}[/]")


@keys_app.command("rotate")
def rotate_command(
    batch: Annotated[
        int, typer.Option(min=1, help="Templates re-encrypted per transaction.")
    ] = 500,
) -> None:
    """Re-encrypt every template with the active key, one short transaction per batch, so the
    system keeps running (old keys stay readable until removed from PALMVEIN_TEMPLATE_KEYS)."""
    from matcher.crypto import KeyringError
    from matcher.repository import rotate_batch

    keyring = _keyring()
    total = 0
    with database(load_settings()) as engine:
        while True:
            try:
                with transaction(engine) as session:
                    n = rotate_batch(session, keyring, batch)
            except KeyringError as exc:
                raise CliError(
                    str(exc),
                    hint="add the missing key to PALMVEIN_TEMPLATE_KEYS",
                    code=ExitCode.FAILURE,
                ) from None
            if n == 0:
                break
            total += n
            console.print(f"re-encrypted {total:,} templates", highlight=False)
    console.print(f"[green]Done[/]: {total:,} templates re-encrypted with key {keyring.active}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
