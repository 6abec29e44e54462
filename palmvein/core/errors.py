"""Domain error hierarchy shared by every palmvein package.

These are plain exceptions with a message written for the person who reads it. They know nothing
about HTTP: the composition root maps each class to a status in one table (``palmvein.problem``),
and the CLI maps them to exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DomainError(Exception):
    """Base of every error a service raises on purpose.

    ``code`` is a short, stable machine-readable name (it becomes part of the problem type URI);
    the message is for people.
    """

    code = "domain-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    """The thing asked for does not exist (or the caller may not know that it exists)."""

    code = "not-found"


class Conflict(DomainError):
    """The request clashes with current state: a duplicate, or a state machine step out of order."""

    code = "conflict"


class AuthenticationFailed(DomainError):
    """The caller could not be identified: no credentials, bad credentials, or an expired token."""

    code = "authentication-failed"


class PermissionDenied(DomainError):
    """The caller is known but their roles do not allow this action."""

    code = "permission-denied"


class TooManyAttempts(DomainError):
    """Throttled: too many recent failures; ``retry_after_seconds`` says when to try again."""

    code = "too-many-attempts"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class FieldProblem:
    """One invalid input: where it is (dotted path, may be empty) and what is wrong with it."""

    field: str
    message: str


class ValidationFailed(DomainError):
    """Input is well-formed but breaks a business rule; ``problems`` lists every one found."""

    code = "validation-failed"

    def __init__(self, message: str, problems: Sequence[FieldProblem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class CurrencyMismatch(ValidationFailed):
    """Arithmetic or comparison between amounts in different currencies."""

    code = "currency-mismatch"


class IntegrityViolation(DomainError):
    """Stored data fails an integrity check (for example a broken audit hash chain)."""

    code = "integrity-violation"
