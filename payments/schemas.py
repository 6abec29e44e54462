"""Request and response bodies of the payments API (pydantic; no web framework here).

Amounts travel as decimal strings in major units ("1250.50") beside an ISO 4217 code, never as
JSON numbers: a float cannot hold 0.10 exactly, and a string can be checked for too many decimals.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from palmvein.core.money import Money
from payments.ledger import Balance
from payments.models import Account, Operation

AMOUNT_PATTERN = r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AmountIn(_In):
    amount: str = Field(pattern=AMOUNT_PATTERN, examples=["1250.50"])
    currency: str = Field(pattern=CURRENCY_PATTERN, examples=["DZD"])
    client_reference: str | None = Field(default=None, min_length=1, max_length=100)

    def money(self) -> Money:
        # Raises ValidationFailed (422) for too many decimals, UnknownCurrency for odd codes.
        return Money.of(self.amount, self.currency)


class AccountIn(_In):
    kind: Literal["wallet", "merchant", "agent_float"]
    owner_id: str = Field(min_length=1, max_length=100)
    currency: str = Field(pattern=CURRENCY_PATTERN)
    phone: str | None = Field(default=None, max_length=20, examples=["+213555000001"])


class BillerIn(_In):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,39}$")
    name: str = Field(min_length=1, max_length=200)
    category: Literal["electricity", "gas", "water", "internet", "phone"]
    currency: str = Field(pattern=CURRENCY_PATTERN)
    reference_pattern: str = Field(min_length=1, max_length=200, examples=[r"\d{12}"])


class TransferIn(AmountIn):
    from_wallet_id: int
    to_wallet_id: int


class CashIn(AmountIn):
    agent_account_id: int
    wallet_account_id: int


class BillPaymentIn(AmountIn):
    wallet_account_id: int
    biller_code: str = Field(min_length=1, max_length=40)
    bill_reference: str = Field(min_length=1, max_length=60)


class PurchaseIn(AmountIn):
    payer_wallet_id: int
    merchant_account_id: int


class PinIn(_In):
    pin: str = Field(min_length=4, max_length=6)


class ReferenceIn(_In):
    client_reference: str | None = Field(default=None, min_length=1, max_length=100)


def _major(minor: int, currency: str) -> str:
    return str(Money(minor, currency).to_decimal())


class AccountOut(BaseModel):
    id: int
    owner_type: str
    owner_id: str
    kind: str
    currency: str
    may_go_negative: bool
    balance: str
    held: str
    available: str

    @classmethod
    def of(cls, account: Account, balance: Balance) -> AccountOut:
        return cls(
            id=account.id,
            owner_type=account.owner_type,
            owner_id=account.owner_id,
            kind=account.kind,
            currency=account.currency,
            may_go_negative=account.may_go_negative,
            balance=str(balance.ledger.to_decimal()),
            held=str(balance.held.to_decimal()),
            available=str(balance.available.to_decimal()),
        )


class OperationOut(BaseModel):
    id: uuid.UUID
    type: str
    status: str
    initiator: str
    client_reference: str | None
    payer_account_id: int | None
    payee_account_id: int | None
    amount: str
    fee: str
    currency: str
    original_id: uuid.UUID | None
    reference: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, operation: Operation) -> OperationOut:
        return cls(
            id=operation.id,
            type=operation.type,
            status=operation.status,
            initiator=operation.initiator,
            client_reference=operation.client_reference,
            payer_account_id=operation.payer_account_id,
            payee_account_id=operation.payee_account_id,
            amount=_major(operation.amount, operation.currency),
            fee=_major(operation.fee, operation.currency),
            currency=operation.currency,
            original_id=operation.original_id,
            reference=operation.reference,
            created_at=operation.created_at,
            updated_at=operation.updated_at,
        )
