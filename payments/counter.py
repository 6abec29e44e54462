"""The palm purchase at a merchant's counter: identify the payer, ask for the PIN above a
threshold, then hold and capture.

Identification itself belongs to the matcher; this module takes its decision (anything with an
``outcome`` of ``"match"``, ``"no_match"`` or ``"ambiguous"`` and the matched ``subject_id``) so
the payment rules can be tested without images. A payer's wallet is the person's wallet in the
sale's currency (``owner_type="person"``, ``owner_id`` = the matcher's person id).

A declined sale is returned, not raised: a wrong PIN must be counted even though no money moves,
so the caller commits the attempt and answers with the decline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from palmvein.core.errors import ValidationFailed
from palmvein.core.money import Money
from palmvein.core.security.passwords import hash_password, verify_password
from payments import ledger, service
from payments.errors import AccountNotFound
from payments.models import AccountKind, Operation, WalletPin
from payments.policy import PaymentsPolicy

PIN_LENGTHS = (4, 6)


class DeclineReason(StrEnum):
    NO_MATCH = "no-match"
    AMBIGUOUS = "ambiguous"
    NO_WALLET = "no-wallet"
    PIN_REQUIRED = "pin-required"
    PIN_NOT_SET = "pin-not-set"
    PIN_INCORRECT = "pin-incorrect"
    PIN_LOCKED = "pin-locked"


class IdentificationDecision(Protocol):
    @property
    def outcome(self) -> str: ...

    @property
    def subject_id(self) -> str | None: ...


@dataclass(frozen=True)
class CounterResult:
    operation: Operation | None
    declined: DeclineReason | None = None
    message: str = ""


def _check_pin_format(pin: str) -> None:
    if not (pin.isdigit() and pin.isascii() and PIN_LENGTHS[0] <= len(pin) <= PIN_LENGTHS[1]):
        raise ValidationFailed(f"a PIN is {PIN_LENGTHS[0]} to {PIN_LENGTHS[1]} digits")


def set_pin(session: Session, *, wallet_account_id: int, pin: str, now: datetime) -> None:
    """Set or reset a wallet's PIN (stored as an Argon2id hash); unlocks a locked PIN."""
    _check_pin_format(pin)
    wallet = ledger.get_account(session, wallet_account_id)
    if wallet.kind != AccountKind.WALLET.value:
        raise AccountNotFound(f"no wallet {wallet_account_id}")
    row = session.get(WalletPin, wallet.id)
    if row is None:
        row = WalletPin(account_id=wallet.id)
        session.add(row)
    row.pin_hash = hash_password(pin)
    row.failed_attempts = 0
    row.locked = False
    row.updated_at = now
    session.flush()


def check_pin(
    session: Session, policy: PaymentsPolicy, *, wallet_account_id: int, pin: str, now: datetime
) -> DeclineReason | None:
    """None if ``pin`` is right; otherwise why not. Failures are counted (flushed, not committed)."""
    row = session.scalars(
        select(WalletPin)
        .where(WalletPin.account_id == wallet_account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        return DeclineReason.PIN_NOT_SET
    if row.locked:
        return DeclineReason.PIN_LOCKED
    if verify_password(row.pin_hash, pin):
        row.failed_attempts = 0
        row.updated_at = now
        session.flush()
        return None
    row.failed_attempts += 1
    row.locked = row.failed_attempts >= policy.pin_max_failures
    row.updated_at = now
    session.flush()
    return DeclineReason.PIN_LOCKED if row.locked else DeclineReason.PIN_INCORRECT


_MESSAGES = {
    DeclineReason.NO_MATCH: "the palm matches no enrolled payer",
    DeclineReason.AMBIGUOUS: "the palm matches more than one payer too closely; try again",
    DeclineReason.NO_WALLET: "the payer has no wallet in this currency",
    DeclineReason.PIN_REQUIRED: "this amount needs the payer's PIN",
    DeclineReason.PIN_NOT_SET: "the payer has no PIN; purchases above the PIN limit are refused",
    DeclineReason.PIN_INCORRECT: "wrong PIN",
    DeclineReason.PIN_LOCKED: "the PIN is locked after too many wrong attempts",
}


def _declined(reason: DeclineReason) -> CounterResult:
    return CounterResult(operation=None, declined=reason, message=_MESSAGES[reason])


def counter_purchase(
    session: Session,
    policy: PaymentsPolicy,
    *,
    decision: IdentificationDecision,
    merchant_account_id: int,
    amount: Money,
    pin: str | None,
    initiator: str,
    now: datetime,
    client_reference: str | None = None,
) -> CounterResult:
    """Decide and, if approved, book a palm purchase (hold and capture).

    Business refusals after approval (insufficient funds, limits) raise as usual: nothing is
    kept from such an attempt.
    """
    ledger.check_amount(amount)
    if str(decision.outcome) != "match" or decision.subject_id is None:
        reason = DeclineReason.AMBIGUOUS if str(decision.outcome) == "ambiguous" else None
        return _declined(reason or DeclineReason.NO_MATCH)
    wallet = ledger.find_account(
        session,
        owner_type="person",
        owner_id=decision.subject_id,
        kind=AccountKind.WALLET,
        currency=amount.currency,
    )
    if wallet is None:
        return _declined(DeclineReason.NO_WALLET)
    threshold = policy.pin_threshold.get(amount.currency)
    if threshold is not None and amount.minor > threshold:
        if not pin:
            return _declined(DeclineReason.PIN_REQUIRED)
        refusal = check_pin(session, policy, wallet_account_id=wallet.id, pin=pin, now=now)
        if refusal is not None:
            return _declined(refusal)
    operation = service.purchase(
        session,
        policy,
        payer_wallet_id=wallet.id,
        merchant_account_id=merchant_account_id,
        amount=amount,
        initiator=initiator,
        now=now,
        client_reference=client_reference,
    )
    return CounterResult(operation=operation)
