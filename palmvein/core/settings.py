"""Runtime configuration: one settings class read from ``PALMVEIN_*`` variables and ``.env``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Public and therefore worthless as a secret: production refuses to start with it.
DEFAULT_SECRET_KEY = "palmvein-development-secret-change-me"
MIN_PRODUCTION_SECRET_LENGTH = 32
DEFAULT_DATABASE_URL = "sqlite:///./var/palmvein.sqlite3"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class InsecureSettingsError(ValueError):
    """Raised when production mode is requested with a secret that is public or too short."""


class Settings(BaseSettings):
    """Everything the application reads from its environment.

    Every field can be set as ``PALMVEIN_<FIELD_NAME>`` (case-insensitive) or in a ``.env`` file in
    the working directory; real environment variables win over ``.env``.
    """

    model_config = SettingsConfigDict(
        env_prefix="PALMVEIN_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)

    access_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_minutes: int = Field(default=8 * 60, ge=1, le=7 * 24 * 60)
    # None means "secure unless in development", so the demo works over plain http://localhost.
    cookie_secure: bool | None = None

    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    login_lockout_seconds: int = Field(default=15 * 60, ge=1)

    log_level: str = "INFO"
    log_json: bool = True

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    # The employer printed on payslips and registers and the debtor of bank transfer files.
    # The defaults are an invented demonstration body (valid RIB key, no real institution):
    # a real deployment sets all of them.
    employer_name_ar: str = "المؤسسة العمومية التجريبية"
    employer_name_latin: str = "Établissement public de démonstration"
    employer_address: str = "1 rue de l'Exemple, 16000 Alger"
    employer_tax_id: str = "000016000000001"
    employer_account_scheme: str = "rib"  # iban, rib, rip, ccp or other
    employer_account: str = "00100160012345678931"
    employer_bank_name: str = "Banque de démonstration"
    employer_bic: str | None = None

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Self:
        if self.environment is Environment.PRODUCTION:
            secret = self.secret_key.get_secret_value()
            if secret == DEFAULT_SECRET_KEY:
                raise InsecureSettingsError(
                    "PALMVEIN_SECRET_KEY is the public default; production mode refuses to start. "
                    "Set it to a random value (e.g. `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'`)."
                )
            if len(secret) < MIN_PRODUCTION_SECRET_LENGTH:
                raise InsecureSettingsError(
                    f"PALMVEIN_SECRET_KEY has {len(secret)} characters; production mode needs at "
                    f"least {MIN_PRODUCTION_SECRET_LENGTH}."
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment is not Environment.DEVELOPMENT

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when the URL names an on-disk SQLite database, else None."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        path = self.database_url[len(prefix) :].split("?", 1)[0]
        if path in ("", ":memory:"):
            return None
        return Path(path)
