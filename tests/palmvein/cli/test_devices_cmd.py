"""`palmvein devices list|capture` against the emulated USB scanner."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import typer
from typer.testing import CliRunner

from palmvein.cli.devices_cmd import register
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """palmvein."""

    register(app)
    return app


def test_list_as_json_shows_every_emulated_scanner() -> None:
    result = runner.invoke(
        _app(), ["devices", "list", "--scanner", "usb-emulated://?count=2", "--json"]
    )
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [d["serial"] for d in listed] == ["PV-EMU-0001", "PV-EMU-0002"]
    assert listed[0]["kind"] == "usb" and listed[0]["width"] == 640


def test_list_as_a_table() -> None:
    result = runner.invoke(_app(), ["devices", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "PV-EMU-0001" in result.output and "640x480, 850 nm" in result.output


def test_capture_writes_frame_pairs_and_a_manifest(tmp_path: Path) -> None:
    uri = "usb-emulated://?width=320&height=240"  # frames from the simulated sensor
    result = runner.invoke(
        _app(), ["devices", "capture", "--scanner", uri, "--out", str(tmp_path), "--count", "2"]
    )
    assert result.exit_code == 0, result.output

    manifest = json.loads((tmp_path / "capture.json").read_text())
    assert manifest["device"]["serial"] == "PV-EMU-0001"
    assert [s["lit"]["sequence"] for s in manifest["frame_sets"]] == [2, 4]
    lit = cv2.imread(str(tmp_path / "0002-lit.png"), cv2.IMREAD_UNCHANGED)
    ambient = cv2.imread(str(tmp_path / "0002-ambient.png"), cv2.IMREAD_UNCHANGED)
    assert lit is not None and ambient is not None
    assert lit.shape == (240, 320) and lit.mean() > ambient.mean()


def test_capture_failure_is_a_clear_cli_error(tmp_path: Path) -> None:
    uri = "usb-emulated://?width=64&height=48&source=synthetic&faults=timeout:1"
    result = runner.invoke(_app(), ["devices", "capture", "--scanner", uri, "--out", str(tmp_path)])
    assert isinstance(result.exception, CliError)
    assert result.exception.code == ExitCode.FAILURE
    assert "did not answer" in result.exception.message


def test_missing_scanner_is_not_found(tmp_path: Path) -> None:
    result = runner.invoke(_app(), ["devices", "list", "--scanner", f"folder://{tmp_path}/none"])
    assert isinstance(result.exception, CliError)
    assert result.exception.code == ExitCode.NOT_FOUND


def test_bad_uri_is_a_usage_error() -> None:
    result = runner.invoke(_app(), ["devices", "list", "--scanner", "camera://0"])
    assert isinstance(result.exception, CliError)
    assert result.exception.code == ExitCode.USAGE
    assert "unknown scanner scheme" in result.exception.message


def test_the_palmvein_command_lists_and_reports_through_its_exit_codes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from palmvein.cli import main

    with pytest.raises(SystemExit) as listed:
        main(["devices", "list", "--scanner", "usb-emulated://?count=2", "--json"])
    assert listed.value.code == ExitCode.OK
    assert [d["serial"] for d in json.loads(capsys.readouterr().out)] == [
        "PV-EMU-0001",
        "PV-EMU-0002",
    ]

    with pytest.raises(SystemExit) as missing:
        main(["devices", "capture", "--scanner", "usb-emulated://?count=2",
              "--out", str(tmp_path)])  # fmt: skip
    assert missing.value.code == ExitCode.NOT_FOUND
    assert "choose one by serial" in capsys.readouterr().err
