"""Turning exceptions into one-line messages with a hint and a documented exit code."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError, ProgrammingError

from palmvein.cli.exit_codes import ExitCode
from palmvein.core import errors


class CliError(Exception):
    """An error a command raises on purpose: message, hint and exit code chosen by the command."""

    def __init__(self, message: str, *, hint: str = "", code: ExitCode = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


@dataclass(frozen=True)
class Failure:
    code: ExitCode
    message: str
    hint: str


_DOMAIN_CODES: tuple[tuple[type[errors.DomainError], ExitCode, str], ...] = (
    (errors.NotFound, ExitCode.NOT_FOUND, "check the name or id"),
    (errors.Conflict, ExitCode.CONFLICT, "it exists already or its state does not allow this"),
    (errors.ValidationFailed, ExitCode.INVALID, "fix the input and run the command again"),
    (errors.AuthenticationFailed, ExitCode.DENIED, "check the credentials"),
    (errors.PermissionDenied, ExitCode.DENIED, "ask an admin for the needed role"),
    (errors.TooManyAttempts, ExitCode.DENIED, "wait, then try again"),
    (errors.IntegrityViolation, ExitCode.INTEGRITY, "run `palmvein audit verify` for details"),
)


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""


def describe(exc: BaseException) -> Failure:
    if isinstance(exc, CliError):
        return Failure(exc.code, exc.message, exc.hint)
    if isinstance(exc, errors.DomainError):
        for cls, code, hint in _DOMAIN_CODES:
            if isinstance(exc, cls):
                detail = ""
                if isinstance(exc, errors.ValidationFailed) and exc.problems:
                    detail = "; " + "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
                return Failure(code, exc.message + detail, hint)
        return Failure(ExitCode.FAILURE, exc.message, "")
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        return Failure(
            ExitCode.CONFIG,
            f"settings refused: {problems}",
            "check the PALMVEIN_* environment variables and .env",
        )
    if isinstance(exc, OperationalError):
        return Failure(
            ExitCode.DATABASE,
            f"database error: {_first_line(str(exc.orig) if exc.orig else str(exc))}",
            "check PALMVEIN_DATABASE_URL and that the database server is running",
        )
    if isinstance(exc, ProgrammingError):
        return Failure(
            ExitCode.DATABASE,
            f"database error: {_first_line(str(exc.orig) if exc.orig else str(exc))}",
            "run `palmvein db upgrade` to bring the schema up to date",
        )
    if isinstance(exc, KeyboardInterrupt):
        return Failure(ExitCode.INTERRUPTED, "interrupted", "")
    return Failure(
        ExitCode.FAILURE,
        f"unexpected {type(exc).__name__}: {_first_line(str(exc))}",
        "this is a bug; set PALMVEIN_DEBUG=1 to see the traceback and report it",
    )


def print_failure(failure: Failure) -> None:
    line = f"error: {failure.message}"
    if failure.hint:
        line += f" (hint: {failure.hint})"
    print(line, file=sys.stderr)
