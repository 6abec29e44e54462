"""Errors the payments services raise on purpose.

Each subclasses a kernel error so the one problem table (``palmvein.problem``) maps it: business
rules that refuse a request are :class:`ValidationFailed` (422), clashes with state or with a
concurrent request are :class:`Conflict` (409), unknown things are :class:`NotFound` (404).
"""

from __future__ import annotations

from palmvein.core.errors import Conflict, NotFound, ValidationFailed


class AccountNotFound(NotFound):
    code = "account-not-found"


class OperationNotFound(NotFound):
    code = "operation-not-found"


class BillerNotFound(NotFound):
    code = "biller-not-found"


class HoldNotFound(NotFound):
    code = "hold-not-found"


class InvalidAmount(ValidationFailed):
    """Zero, negative, too many decimals, too large, or in a currency the account does not use."""

    code = "invalid-amount"


class UnbalancedTransaction(ValidationFailed):
    code = "unbalanced-transaction"


class InsufficientFunds(ValidationFailed):
    code = "insufficient-funds"


class LimitExceeded(ValidationFailed):
    """A per-transaction, per-day or cash-out cap would be passed."""

    code = "limit-exceeded"


class InvalidBillReference(ValidationFailed):
    code = "invalid-bill-reference"


class HoldNotPending(Conflict):
    """The hold was already captured, voided or expired."""

    code = "hold-not-pending"


class OperationNotReversible(Conflict):
    """A void after settlement or on another day, a refund beyond the original amount, ..."""

    code = "operation-not-reversible"


class IdempotencyKeyReused(ValidationFailed):
    """The same Idempotency-Key came back with a different request body."""

    code = "idempotency-key-reused"


class RequestInFlight(Conflict):
    """A request with the same Idempotency-Key is still being processed; retry later."""

    code = "request-in-flight"


class DuplicateClientReference(Conflict):
    code = "duplicate-client-reference"
