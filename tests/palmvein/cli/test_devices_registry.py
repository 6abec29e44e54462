"""`palmvein devices register|rotate|revoke|status|pay-point|reseal` on a migrated database."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from palmvein.cli.devices_cmd import register
from palmvein.cli.errors import describe
from palmvein.cli.exit_codes import ExitCode
from palmvein.core.db import unit_of_work, utcnow
from payments import service

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """palmvein."""

    register(app)
    return app


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PALMVEIN_DATABASE_URL", db_url)
    monkeypatch.delenv("PALMVEIN_TEMPLATE_KEYS", raising=False)

    def run(*args: str) -> Any:
        result = runner.invoke(_app(), ["devices", *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            return describe(result.exception)
        assert result.exit_code == 0, result.output
        return json.loads(result.output) if "--json" in args else result.output

    return run


@pytest.fixture
def shop(session_factory: sessionmaker[Session]) -> int:
    with unit_of_work(session_factory) as session:
        account = service.open_merchant_account(
            session, merchant_id="epicerie", currency="DZD", now=utcnow()
        )
        return account.id


def test_register_rotate_revoke_and_status(cli: Any, shop: int) -> None:
    made = cli(
        "register", "--kind", "counter_terminal", "--label", "Till 1",
        "--merchant-account", str(shop), "--json",
    )  # fmt: skip
    device_id, first_key = made["device_id"], made["key"]["key_id"]
    assert len(made["key"]["secret"]) == 43

    rotated = cli("rotate", str(device_id), "--overlap", "5", "--json")
    assert rotated["key_id"] != first_key and rotated["previous_keys_valid_until"]
    [row] = cli("status", "--json")
    assert row["status"] == "never-seen" and row["merchant_account_id"] == shop
    assert row["active_keys"] == [first_key, rotated["key_id"]]

    only_key = cli("revoke", str(device_id), "--key", first_key, "--json")
    assert only_key["active_keys"] == [rotated["key_id"]] and only_key["status"] == "never-seen"
    revoked = cli("revoke", str(device_id), "--reason", "stolen", "--json")
    assert revoked["status"] == "revoked" and revoked["active_keys"] == []
    assert "revoked" in cli("status")
    [outage] = cli("outages", "--hours", "1", "--json")["devices"]
    assert outage["id"] == device_id and outage["downtime_seconds"] == outage["observed_seconds"]


def test_pay_point_devices_and_errors_with_exit_codes(cli: Any, shop: int) -> None:
    assert cli("pay-point", "poste-1", "--name", "Poste 1", "--json")["code"] == "poste-1"
    made = cli(
        "register", "--kind", "pay_point", "--label", "guichet", "--pay-point", "poste-1", "--json"
    )
    assert made["kind"] == "pay_point"
    assert cli("register", "--kind", "pay_point", "--label", "x").code == ExitCode.INVALID
    assert cli("rotate", "999").code == ExitCode.NOT_FOUND
    wallet_as_shop = cli(
        "register", "--kind", "counter_terminal", "--label", "x", "--merchant-account", "999"
    )
    assert wallet_as_shop.code == ExitCode.INVALID
    assert cli("reseal", "--json") == {"resealed": 0, "active_key": "derived-1"}
