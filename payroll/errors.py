"""Errors the payroll services raise on purpose (mapped to HTTP once, in ``palmvein.problem``)."""

from __future__ import annotations

from palmvein.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class EmployeeNotFound(NotFound):
    code = "payroll-employee-not-found"


class RunNotFound(NotFound):
    code = "payroll-run-not-found"


class PaymentNotFound(NotFound):
    code = "payroll-payment-not-found"


class ImportRejected(ValidationFailed):
    """An employee file has problems; ``problems`` lists every one (field ``row N: column``)."""

    code = "payroll-import-rejected"


class PeriodInvalid(ValidationFailed):
    code = "payroll-period-invalid"


class RunStateConflict(Conflict):
    """A run step out of order (approve before submit, post twice, cancel after release...)."""

    code = "payroll-run-state"


class MakerCheckerViolation(PermissionDenied):
    """The user who submitted a run tried to approve it."""

    code = "payroll-maker-checker"


class AlreadyPaidForPeriod(Conflict):
    """An employee already has a live payment for the period (from another run)."""

    code = "payroll-already-paid"


class AlreadyReleased(Conflict):
    code = "payroll-already-released"


class PaidByBankTransfer(Conflict):
    """A salary paid by the bank transfer file was asked to be released at a pay point (or the
    other way round): each salary has one channel, fixed at posting, so it is never paid twice."""

    code = "payroll-paid-by-bank"
