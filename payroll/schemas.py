"""Request bodies of the payroll API (responses are the services' ``as_dict`` views)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from payroll.models import Release, ReleaseChannel
from payroll.paypoint import PayPointResult

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"


class RunOpenIn(BaseModel):
    period: str = Field(pattern=PERIOD_PATTERN, examples=["2026-03"])
    currency: str = Field(default="DZD", pattern=CURRENCY_PATTERN)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


class StructureIn(BaseModel):
    grade: str = Field(min_length=1, max_length=40)
    currency: str = Field(default="DZD", pattern=CURRENCY_PATTERN)
    effective_from: date
    definition: dict[str, Any] = Field(
        description="Components and constants; see payroll/README.md"
    )


class ManualReleaseIn(BaseModel):
    employee_number: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=10, max_length=500, description="Why the palm could not be used")
    channel: ReleaseChannel = ReleaseChannel.CASH
    pay_point: str = Field(min_length=1, max_length=40, description="Pay point code")


class ReleaseOut(BaseModel):
    payment_id: int
    employee_id: int
    amount: int = Field(description="Minor units")
    currency: str
    channel: str
    released_at: datetime
    released_by: str
    supervisor_override_reason: str | None

    @classmethod
    def of(cls, release: Release) -> ReleaseOut:
        return cls(
            payment_id=release.payment_id,
            employee_id=release.employee_id,
            amount=release.amount,
            currency=release.currency,
            channel=release.channel,
            released_at=release.released_at,
            released_by=release.released_by,
            supervisor_override_reason=release.supervisor_override_reason,
        )


class PayPointClaimOut(BaseModel):
    outcome: str
    reason: str | None
    employee_number: str
    released: list[ReleaseOut]
    failed_attempts: int
    manual_release_allowed: bool

    @classmethod
    def of(cls, result: PayPointResult) -> PayPointClaimOut:
        return cls(
            outcome=result.outcome.value,
            reason=result.reason,
            employee_number=result.employee_number,
            released=[ReleaseOut.of(r) for r in result.released],
            failed_attempts=result.failed_attempts,
            manual_release_allowed=result.manual_release_allowed,
        )
