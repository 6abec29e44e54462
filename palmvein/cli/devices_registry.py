"""``palmvein devices register|rotate|revoke|status|pay-point|reseal``: the device registry.

These act on the configured database directly, as an operator with shell access to the server
(audited as ``cli:<os user>``). A new key's secret is printed once; it is not stored in clear
and cannot be shown again (rotate to get a new one).
"""

from __future__ import annotations

import getpass
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from palmvein.cli.common import JSON_HELP, console, database, load_settings, print_json, transaction
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode
from palmvein.core.db import utcnow

if TYPE_CHECKING:
    from devices.service import DeviceStatusRow, IssuedKey
    from matcher.crypto import Keyring

JsonOption = Annotated[bool, typer.Option("--json", help=JSON_HELP)]


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


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


def _key_json(issued: IssuedKey) -> dict[str, Any]:
    return {
        "device_id": issued.device_id,
        "key_id": issued.key_id,
        "secret": issued.secret,
        "previous_keys_valid_until": issued.previous_keys_valid_until,
    }


def _print_key(issued: IssuedKey) -> None:
    console.print(f"key id: [bold]{issued.key_id}[/]", highlight=False)
    console.print(f"secret: [bold]{issued.secret}[/]", highlight=False)
    console.print("[yellow]The secret is shown this once; store it in the terminal now.[/]")
    if issued.previous_keys_valid_until is not None:
        console.print(
            f"Previous keys stop working at {issued.previous_keys_valid_until:%Y-%m-%d %H:%M:%S} UTC."
        )


def _row_json(row: DeviceStatusRow) -> dict[str, Any]:
    device = row.device
    return {
        "id": device.id,
        "kind": device.kind,
        "label": device.label,
        "serial": device.serial,
        "merchant_account_id": device.merchant_account_id,
        "pay_point_id": device.pay_point_id,
        "status": row.status.value,
        "last_seen_at": device.last_seen_at,
        "software_version": device.software_version,
        "scanner_status": device.scanner_status,
        "revoked_at": device.revoked_at,
        "active_keys": row.active_keys,
    }


def register_command(
    kind: Annotated[str, typer.Option("--kind", help="scanner, counter_terminal or pay_point.")],
    label: Annotated[str, typer.Option("--label", help="Where it is, e.g. 'Till 1, Epicerie'.")],
    merchant_account: Annotated[
        int | None, typer.Option("--merchant-account", help="Merchant account id (terminals).")
    ] = None,
    pay_point: Annotated[
        str | None, typer.Option("--pay-point", help="Pay point code (pay point devices).")
    ] = None,
    serial: Annotated[str | None, typer.Option("--serial", help="Hardware serial.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a device and print its first key (the secret is shown once)."""
    from devices import service
    from devices.models import DeviceKind

    try:
        device_kind = DeviceKind(kind)
    except ValueError:
        raise CliError(
            f"unknown device kind {kind!r}",
            hint="one of: " + ", ".join(k.value for k in DeviceKind),
            code=ExitCode.USAGE,
        ) from None
    keyring = _keyring()
    with database(load_settings()) as engine, transaction(engine) as session:
        device, issued = service.register_device(
            session,
            keyring,
            kind=device_kind,
            label=label,
            serial=serial,
            merchant_account_id=merchant_account,
            pay_point_code=pay_point,
            actor=_actor(),
            now=utcnow(),
        )
        device_id = device.id
    if as_json:
        print_json({"device_id": device_id, "kind": device_kind.value, "key": _key_json(issued)})
        return
    console.print(f"Registered {device_kind.value} [bold]{device_id}[/] ({label}).")
    _print_key(issued)


def rotate_command(
    device_id: Annotated[int, typer.Argument(help="Device id.")],
    overlap_minutes: Annotated[
        float, typer.Option("--overlap", min=0, help="Minutes the old key keeps working.")
    ] = 15.0,
    as_json: JsonOption = False,
) -> None:
    """Issue a new key; the device's current keys keep working for the overlap, then stop."""
    from devices import service
    from devices.service import DevicePolicy

    policy = DevicePolicy(rotation_overlap=timedelta(minutes=overlap_minutes))
    keyring = _keyring()
    with database(load_settings()) as engine, transaction(engine) as session:
        issued = service.rotate_key(
            session, keyring, device_id=device_id, actor=_actor(), now=utcnow(), policy=policy
        )
    if as_json:
        print_json(_key_json(issued))
        return
    console.print(f"New key for device [bold]{device_id}[/].")
    _print_key(issued)


def revoke_command(
    device_id: Annotated[int, typer.Argument(help="Device id.")],
    key: Annotated[
        str | None, typer.Option("--key", help="Revoke only this key id (default: the device).")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit log.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Revoke a device (all its keys) or one key; requests signed with them fail at once."""
    from devices import service

    now = utcnow()
    with database(load_settings()) as engine, transaction(engine) as session:
        device = service.revoke(
            session, device_id=device_id, key_id=key, reason=reason, actor=_actor(), now=now
        )
        row = service.status_row(session, device, now=now)
    if as_json:
        print_json(_row_json(row))
        return
    what = f"key {key} of device {device_id}" if key else f"device {device_id}"
    console.print(f"Revoked {what}; status now {row.status.value}.")


def status_command(
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every device with its status: online, faulty, offline, never-seen or revoked."""
    from devices import service
    from devices.models import DeviceKind

    now = utcnow()
    with database(load_settings()) as engine, transaction(engine) as session:
        rows = service.device_statuses(session, now=now, kind=DeviceKind(kind) if kind else None)
        data = [_row_json(row) for row in rows]
    if as_json:
        print_json(data)
        return
    if not data:
        console.print("No devices registered.")
        return
    colours = {"online": "green", "offline": "yellow", "faulty": "magenta", "never-seen": "dim", "revoked": "red"}
    table = Table(title="Devices")
    for column in ("Id", "Kind", "Label", "Bound to", "Status", "Last seen", "Software", "Keys"):
        # Ids, kinds, statuses and key ids are what scripts and people copy: never fold them.
        table.add_column(column, no_wrap=column not in ("Label", "Software"), overflow="fold")
    for d in data:
        bound = (
            f"merchant {d['merchant_account_id']}"
            if d["merchant_account_id"]
            else f"pay point {d['pay_point_id']}"
            if d["pay_point_id"]
            else "-"
        )
        seen = d["last_seen_at"].strftime("%Y-%m-%d %H:%M:%S") if d["last_seen_at"] else "-"
        table.add_row(
            str(d["id"]),
            d["kind"],
            d["label"],
            bound,
            f"[{colours[d['status']]}]{d['status']}[/]",
            seen,
            d["software_version"] or "-",
            ", ".join(d["active_keys"]) or "-",
        )
    console.print(table)


def pay_point_command(
    code: Annotated[str, typer.Argument(help="Short code, e.g. poste-bab-ezzouar.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    address: Annotated[str | None, typer.Option("--address")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a pay point (a post office or desk where salaries are paid out)."""
    from devices import service

    with database(load_settings()) as engine, transaction(engine) as session:
        pay_point = service.create_pay_point(
            session, code=code, name=name, address=address, actor=_actor(), now=utcnow()
        )
        result = {"id": pay_point.id, "code": code, "name": name, "address": address}
    if as_json:
        print_json(result)
        return
    console.print(f"Pay point [bold]{code}[/] created (id {result['id']}).")


def reseal_command(as_json: JsonOption = False) -> None:
    """Re-encrypt device secrets with the active key of PALMVEIN_TEMPLATE_KEYS."""
    from devices.credentials import reseal

    keyring = _keyring()
    with database(load_settings()) as engine, transaction(engine) as session:
        changed = reseal(session, keyring)
    if as_json:
        print_json({"resealed": changed, "active_key": keyring.active})
        return
    console.print(f"{changed} device secret(s) resealed with key {keyring.active}.")


def outages_command(
    hours: Annotated[
        float, typer.Option("--hours", min=0.01, help="Period: the last N hours.")
    ] = 24.0,
    as_json: JsonOption = False,
) -> None:
    """Downtime per device over the last hours (gaps between heartbeats longer than 3 min)."""
    from devices import service

    end = utcnow()
    start = end - timedelta(hours=hours)
    with database(load_settings()) as engine, transaction(engine) as session:
        rows = service.outage_report(session, start=start, end=end)
        data: list[dict[str, Any]] = [
            {
                "id": row.device.id,
                "kind": row.device.kind,
                "label": row.device.label,
                "observed_seconds": int(row.observed.total_seconds()),
                "downtime_seconds": int(row.downtime.total_seconds()),
                "outages": [
                    {"start": o.start, "end": o.end, "seconds": int(o.duration.total_seconds())}
                    for o in row.outages
                ],
            }
            for row in rows
        ]
    if as_json:
        print_json({"start": start, "end": end, "devices": data})
        return
    table = Table(title=f"Device downtime, last {hours:g} h")
    for column in ("Id", "Kind", "Label", "Downtime", "Outages", "Longest"):
        table.add_column(column, no_wrap=column != "Label", overflow="fold")
    for d in data:
        longest = max((o["seconds"] for o in d["outages"]), default=0)
        share = d["downtime_seconds"] / d["observed_seconds"] if d["observed_seconds"] else 0
        table.add_row(
            str(d["id"]),
            d["kind"],
            d["label"],
            f"{timedelta(seconds=d['downtime_seconds'])} ({share:.1%})",
            str(len(d["outages"])),
            str(timedelta(seconds=longest)),
        )
    console.print(table)


def add_registry_commands(devices: typer.Typer) -> None:
    devices.command("outages")(outages_command)
    devices.command("register")(register_command)
    devices.command("rotate")(rotate_command)
    devices.command("revoke")(revoke_command)
    devices.command("status")(status_command)
    devices.command("pay-point")(pay_point_command)
    devices.command("reseal")(reseal_command)
