"""The ``palmvein`` command: output, one-line errors and exit codes."""

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from palmvein.cli import _COMMAND_MODULES, main
from palmvein.cli.exit_codes import ExitCode

PASSWORD = "correct horse battery staple"
README = Path(__file__).resolve().parents[3] / "README.md"


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    for name in ("PALMVEIN_ENVIRONMENT", "PALMVEIN_SECRET_KEY", "PALMVEIN_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], cli_env: pytest.MonkeyPatch) -> Cli:
    """Run ``palmvein ARGV...`` in-process; returns (exit code, stdout, stderr)."""

    def run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        cli_env.setattr("sys.stdin", io.StringIO(stdin or ""))
        with pytest.raises(SystemExit) as exited:
            main(list(argv))
        out, err = capsys.readouterr()
        code = exited.value.code
        return (code if isinstance(code, int) else 1), out, err

    return run


@pytest.fixture
def migrated(cli_env: pytest.MonkeyPatch, db_url: str) -> str:
    cli_env.setenv("PALMVEIN_DATABASE_URL", db_url)
    return db_url


@pytest.fixture
def empty(cli_env: pytest.MonkeyPatch, empty_db_url: str) -> str:
    cli_env.setenv("PALMVEIN_DATABASE_URL", empty_db_url)
    return empty_db_url


def test_db_upgrade_migrates_then_is_a_no_op(empty: str, cli: Cli) -> None:
    code, out, _ = cli("db", "upgrade", "--json")
    first = json.loads(out)
    assert code == ExitCode.OK
    assert first["from_revision"] is None and first["changed"]
    assert first["revision"] == first["head"]
    code, out, _ = cli("db", "upgrade", "--json")
    assert code == ExitCode.OK and not json.loads(out)["changed"]
    code, out, _ = cli("db", "current", "--json")
    assert json.loads(out)["up_to_date"] is True


def test_commands_on_an_unmigrated_database_say_what_to_run(empty: str, cli: Cli) -> None:
    code, out, err = cli("audit", "verify")
    assert code == ExitCode.DATABASE
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: database schema is at nothing")
    assert "hint: run `palmvein db upgrade`" in err


def test_users_create_and_list(migrated: str, cli: Cli) -> None:
    code, out, err = cli(
        "users",
        "create",
        "Amina",
        "--role",
        "admin",
        "-r",
        "auditor",
        "--full-name",
        "Amina B.",
        "--password-stdin",
        "--json",
        stdin=PASSWORD + "\n",
    )
    assert code == ExitCode.OK, err
    assert json.loads(out) == {
        "id": 1, "username": "amina", "roles": ["admin", "auditor"], "language": None
    }
    assert PASSWORD not in out + err
    code, out, _ = cli("users", "list", "--json")
    [row] = json.loads(out)
    assert row["full_name"] == "Amina B." and row["active"] is True


def test_users_create_errors_have_codes_and_hints(migrated: str, cli: Cli) -> None:
    args = ("users", "create", "amina", "--role", "admin", "--password-stdin")
    assert cli(*args, stdin=PASSWORD)[0] == ExitCode.OK
    code, _, err = cli(*args, stdin=PASSWORD)
    assert code == ExitCode.CONFLICT
    assert (
        err == "error: a staff user named 'amina' already exists (hint: it exists already "
        "or its state does not allow this)\n"
    )
    code, _, err = cli(
        "users", "create", "omar", "--role", "boss", "--password-stdin", stdin=PASSWORD
    )
    assert code == ExitCode.INVALID and "unknown role 'boss'" in err
    code, _, err = cli(
        "users", "create", "omar", "--role", "admin", "--password-stdin", stdin="short"
    )
    assert code == ExitCode.INVALID and "at least 12 characters" in err
    code, _, err = cli("users", "create", "omar", "--role", "admin", stdin="")
    assert code == ExitCode.USAGE and "--password-stdin" in err
    code, _, err = cli(
        "users", "create", "omar", "--role", "admin", "--language", "de", "--password-stdin",
        stdin=PASSWORD,
    )
    assert code == ExitCode.INVALID and "unknown language 'de'" in err and "ar, en, fr" in err


def test_users_create_with_a_language(migrated: str, cli: Cli) -> None:
    code, out, err = cli(
        "users", "create", "karima", "--role", "merchant_cashier", "--language", "ar",
        "--password-stdin", "--json", stdin=PASSWORD,
    )
    assert code == ExitCode.OK, err
    assert json.loads(out)["language"] == "ar"
    cli("users", "create", "omar", "--role", "auditor", "--password-stdin", stdin=PASSWORD)
    code, out, _ = cli("users", "list", "--json")
    assert code == ExitCode.OK
    assert {row["username"]: row["language"] for row in json.loads(out)} == {
        "karima": "ar", "omar": None
    }
    code, out, _ = cli("users", "list")
    assert code == ExitCode.OK and re.search(r"language", out)
    [karima] = [line for line in out.splitlines() if "karima" in line]
    [omar] = [line for line in out.splitlines() if "omar" in line]
    assert re.search(r"│ ar +│ yes", karima) and re.search(r"│ - +│ yes", omar)


def test_audit_verify_reports_intact_then_names_the_edited_row(
    migrated: str, db_engine: Engine, cli: Cli
) -> None:
    for name in ("amina", "karim"):
        cli("users", "create", name, "--role", "admin", "--password-stdin", stdin=PASSWORD)
    code, out, _ = cli("audit", "verify", "--json")
    report = json.loads(out)
    assert code == ExitCode.OK and report["ok"] and report["rows"] == 2
    anchor = f"{report['head_seq']}:{report['head_hash']}"
    assert cli("audit", "verify", "--anchor", anchor)[0] == ExitCode.OK

    with db_engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER audit_log_no_update ON audit_log"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
        connection.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE seq = 1"))
    code, out, _ = cli("audit", "verify")
    assert code == ExitCode.INTEGRITY
    assert "row 1 was edited" in out
    code, out, _ = cli("audit", "verify", "--json")
    assert json.loads(out)["findings"][0] == {
        "kind": "edited",
        "seq": 1,
        "message": "row 1 was edited: its content no longer matches its hash",
    }
    code, _, err = cli("audit", "verify", "--anchor", "nonsense")
    assert code == ExitCode.USAGE and "SEQ:SHA256HEX" in err


def test_demo_runs_every_step_and_is_repeatable(empty: str, cli: Cli) -> None:
    code, out, err = cli("demo", "--json")
    assert code == ExitCode.OK, err
    summary = json.loads(out)
    assert summary["ok"]
    titles = [step["title"] for step in summary["steps"]]
    assert titles[:4] == ["Database", "Staff and roles", "Sign-in", "Audit log"]
    facts = {step["title"]: step["facts"] for step in summary["steps"]}
    assert facts["Staff and roles"]["created"] == (
        "admin, clerk, officer, approver, cashier, auditor"
    )
    assert facts["Audit log"]["chain"] == "intact"
    assert "row 3 was edited" in facts["Audit log"]["tamper test (scratch copy)"]
    assert facts["Sign-in"]["throttling"].startswith("5 wrong passwords, then locked")

    code, out, _ = cli("demo")
    assert code == ExitCode.OK
    assert "all steps passed" in out and "already present" in out


def test_demo_refuses_production(cli_env: pytest.MonkeyPatch, cli: Cli) -> None:
    cli_env.setenv("PALMVEIN_ENVIRONMENT", "production")
    cli_env.setenv("PALMVEIN_SECRET_KEY", "p" * 40)
    code, _, err = cli("demo")
    assert code == ExitCode.CONFIG and "not in production" in err


def test_production_with_the_default_secret_is_a_config_error(
    cli_env: pytest.MonkeyPatch, cli: Cli
) -> None:
    cli_env.setenv("PALMVEIN_ENVIRONMENT", "production")
    code, _, err = cli("db", "current")
    assert code == ExitCode.CONFIG
    assert err.startswith("error: settings refused:") and "public default" in err
    assert err.count("\n") == 1


def test_unreachable_database_is_a_database_error(cli_env: pytest.MonkeyPatch, cli: Cli) -> None:
    cli_env.setenv("PALMVEIN_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    code, _, err = cli("db", "current")
    assert code == ExitCode.DATABASE
    assert "hint: check PALMVEIN_DATABASE_URL" in err


def test_usage_errors_exit_2(cli_env: pytest.MonkeyPatch, cli: Cli) -> None:
    assert cli("no-such-command")[0] == ExitCode.USAGE
    assert cli("users", "create")[0] == ExitCode.USAGE


def test_every_command_module_is_registered(cli: Cli) -> None:
    code, out, _ = cli("--help")
    assert code == ExitCode.OK
    for command in ("demo", "serve", "db", "users", "audit"):
        assert re.search(rf"\b{command}\b", out)
    assert len(set(_COMMAND_MODULES)) == len(_COMMAND_MODULES)


def test_readme_documents_every_exit_code() -> None:
    readme = README.read_text(encoding="utf-8")
    for code in ExitCode:
        assert re.search(rf"^\|\s*{code.value}\s*\|\s*`{code.name}`", readme, re.MULTILINE), (
            f"README exit code table lacks {code.value} {code.name}"
        )


def test_calibrate_shows_the_shipped_thresholds_until_the_site_has_enough_palms(
    migrated: str, cli: Cli
) -> None:
    from matcher.calibration import shipped

    code, out, err = cli("calibrate", "show", "--json")
    assert code == ExitCode.OK, err
    shown = json.loads(out)
    assert shown["site_calibration"] is None
    at_1e4 = next(t for t in shown["thresholds"] if t["fmr"] == 1e-4)
    assert at_1e4["used"] == at_1e4["shipped"] == round(shipped().threshold_for(1e-4).score, 6)
    assert at_1e4["from"] == "shipped"
    code, _, err = cli("calibrate", "run")
    assert code == ExitCode.CONFLICT
    assert "at least 50 enrolled persons" in err and "enrol more staff first" in err
