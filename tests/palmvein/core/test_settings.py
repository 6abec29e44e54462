from pathlib import Path

import pytest
from pydantic import ValidationError

from palmvein.core.settings import DEFAULT_SECRET_KEY, Environment, Settings

STRONG_SECRET = "x" * 48


def test_defaults_are_a_local_sqlite_development_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PALMVEIN_ENVIRONMENT", "PALMVEIN_DATABASE_URL", "PALMVEIN_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.database_url == "sqlite:///./var/palmvein.sqlite3"
    assert settings.sqlite_path == Path("var/palmvein.sqlite3")
    assert not settings.secure_cookies


def test_reads_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PALMVEIN_DATABASE_URL", "postgresql+psycopg://u@db/palmvein")
    monkeypatch.setenv("PALMVEIN_LOGIN_MAX_FAILURES", "3")
    settings = Settings(_env_file=None)
    assert settings.database_url == "postgresql+psycopg://u@db/palmvein"
    assert settings.login_max_failures == 3
    assert settings.sqlite_path is None


def test_reads_dotenv_file_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PALMVEIN_PORT=9001\nPALMVEIN_LOG_LEVEL=DEBUG\n")
    monkeypatch.delenv("PALMVEIN_PORT", raising=False)
    monkeypatch.setenv("PALMVEIN_LOG_LEVEL", "WARNING")
    settings = Settings(_env_file=env_file)
    assert settings.port == 9001
    assert settings.log_level == "WARNING"


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="public default"):
        Settings(_env_file=None, environment="production", secret_key=DEFAULT_SECRET_KEY)


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(_env_file=None, environment="production", secret_key="short-but-not-default")


def test_production_with_a_strong_secret_starts_with_secure_cookies() -> None:
    settings = Settings(_env_file=None, environment="production", secret_key=STRONG_SECRET)
    assert settings.is_production
    assert settings.secure_cookies


def test_secret_is_not_shown_in_repr() -> None:
    settings = Settings(_env_file=None, secret_key=STRONG_SECRET)
    assert STRONG_SECRET not in repr(settings)
    assert STRONG_SECRET not in str(settings.model_dump())
