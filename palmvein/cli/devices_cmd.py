"""``palmvein devices``: list palm scanners and capture frames from one; the registry commands
(register, rotate, revoke, status) are in :mod:`palmvein.cli.devices_registry`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import cv2
import typer
from rich.console import Console
from rich.table import Table

from capture.scanner import Frame, ScannerError, ScannerNotFound
from capture.uri import DEFAULT_SCANNER_URI, ScannerUriError, list_scanners, scanner_from_uri
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode

ScannerOption = Annotated[
    str,
    typer.Option(
        "--scanner",
        help="Scanner URI: usb://?serial=..., usb-emulated://, uvc://0, folder:///path, sim://.",
    ),
]


def _cli_error(exc: ScannerError | ScannerUriError) -> CliError:
    if isinstance(exc, ScannerUriError):
        return CliError(
            str(exc),
            hint="e.g. usb://?serial=PV-0042, usb-emulated://, uvc://0, folder:///path, sim://",
            code=ExitCode.USAGE,
        )
    if isinstance(exc, ScannerNotFound):
        return CliError(
            str(exc),
            hint="check the cable and the --scanner URI; `palmvein devices list` shows scanners",
            code=ExitCode.NOT_FOUND,
        )
    return CliError(
        str(exc), hint="check the scanner and its cable, then try again", code=ExitCode.FAILURE
    )


def list_devices(
    scanner: ScannerOption = DEFAULT_SCANNER_URI,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the scanners reachable through a scanner URI's transport."""
    try:
        found = list_scanners(scanner)
    except (ScannerError, ScannerUriError) as exc:
        raise _cli_error(exc) from exc
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(info) for info in found], indent=2))
        return
    if not found:
        Console().print(f"No scanners found for {scanner}.")
        return
    table = Table(title=f"Scanners ({scanner})")
    # The serial is what --scanner ...?serial= needs: never truncate it.
    table.add_column("Serial", no_wrap=True, min_width=max(len(info.serial) for info in found))
    table.add_column("Model", overflow="fold")
    table.add_column("Firmware", overflow="fold")
    table.add_column("Frame", no_wrap=True)
    table.add_column("LED", no_wrap=True)
    for info in found:
        wavelength = f", {info.wavelength_nm} nm" if info.wavelength_nm else ""
        table.add_row(
            info.serial,
            info.model,
            info.firmware or "-",
            f"{info.width}x{info.height}{wavelength}",
            "switched" if info.led_control else "fixed",
        )
    Console().print(table)


def _save(frame: Frame, path: Path) -> dict[str, object]:
    if not cv2.imwrite(str(path), frame.image):
        raise CliError(f"could not write {path}", hint="check the --out directory")
    return {
        "file": path.name,
        "led_on": frame.led_on,
        "sequence": frame.sequence,
        "exposure_us": frame.exposure_us,
        "led_intensity": frame.led_intensity,
    }


def capture(
    out: Annotated[Path, typer.Option("--out", help="Directory for the PNG frames.")],
    scanner: ScannerOption = DEFAULT_SCANNER_URI,
    count: Annotated[int, typer.Option("--count", min=1, help="Frame sets to capture.")] = 1,
) -> None:
    """Capture frame sets (LED-off ambient + LED-on when the scanner has LED control) as PNGs.

    Writes ``NNNN-lit.png`` (and ``NNNN-ambient.png``) per set and ``capture.json`` describing them.
    """
    out.mkdir(parents=True, exist_ok=True)
    records = []
    try:
        source = scanner_from_uri(scanner)
        with source:
            info = source.info
            for index in range(1, count + 1):
                frames = source.capture_set()
                record = {"lit": _save(frames.lit, out / f"{index:04d}-lit.png")}
                if frames.ambient is not None:
                    record["ambient"] = _save(frames.ambient, out / f"{index:04d}-ambient.png")
                records.append(record)
    except (ScannerError, ScannerUriError) as exc:
        raise _cli_error(exc) from exc
    manifest = {"scanner": scanner, "device": dataclasses.asdict(info), "frame_sets": records}
    (out / "capture.json").write_text(json.dumps(manifest, indent=2) + "\n")
    Console().print(
        f"Captured {len(records)} frame set(s) from {info.serial} ({info.model}) into {out}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``devices`` command group to the root CLI."""
    from palmvein.cli.devices_registry import add_registry_commands

    devices = typer.Typer(
        help="Palm scanners (list, capture) and the device registry (register, rotate, revoke, "
        "status).",
        no_args_is_help=True,
    )
    devices.command("list")(list_devices)
    devices.command("capture")(capture)
    add_registry_commands(devices)
    app.add_typer(devices, name="devices")
