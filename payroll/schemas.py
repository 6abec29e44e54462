"""Request bodies of the payroll API (responses are the services' ``as_dict`` views)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

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
