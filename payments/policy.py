"""The operator's tariff and limits: fees per operation type, per-transaction and per-day limits,
the daily cash-out cap per person, and the business day's time zone.

A policy is a plain value handed to the services, so each deployment (and each test) states its
own. :data:`DEFAULT_POLICY` is a starting point for a DZD deployment, not a recommendation: the
operator sets the real tariff.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from palmvein.core.money import Money
from payments.models import OperationType


@dataclass(frozen=True, slots=True)
class FeeRule:
    """``fixed`` minor units plus ``rate`` of the amount, then clamped to [minimum, maximum]."""

    fixed: int = 0
    rate: Decimal = Decimal(0)
    minimum: int = 0
    maximum: int | None = None

    def fee_for(self, amount: Money) -> Money:
        # Half-up is how fee tariffs are usually printed ("0.5 %, rounded to the centime").
        value = self.fixed + amount.scale(self.rate, rounding=ROUND_HALF_UP).minor
        value = max(value, self.minimum)
        if self.maximum is not None:
            value = min(value, self.maximum)
        return Money(value, amount.currency)


@dataclass(frozen=True, slots=True)
class Limit:
    """Caps on what one payer may do with one operation type (minor units; None = no cap)."""

    per_transaction: int | None = None
    per_day: int | None = None


NO_FEE = FeeRule()
NO_LIMIT = Limit()


@dataclass(frozen=True)
class PaymentsPolicy:
    fees: Mapping[tuple[OperationType, str], FeeRule] = field(default_factory=dict)
    limits: Mapping[tuple[OperationType, str], Limit] = field(default_factory=dict)
    # Daily cash-out cap per person and currency, in minor units.
    cash_out_daily_cap: Mapping[str, int] = field(default_factory=lambda: {"DZD": 5_000_000})
    business_timezone: str = "Africa/Algiers"
    # How long a purchase authorisation reserves the payer's funds before it expires.
    hold_lifetime: timedelta = timedelta(minutes=15)
    # Palm purchases above this amount (minor units, per currency) also need the payer's PIN.
    pin_threshold: Mapping[str, int] = field(default_factory=lambda: {"DZD": 500_000})
    pin_max_failures: int = 3

    def fee_for(self, operation: OperationType, amount: Money) -> Money:
        return self.fees.get((operation, amount.currency), NO_FEE).fee_for(amount)

    def limit_for(self, operation: OperationType, currency: str) -> Limit:
        return self.limits.get((operation, currency), NO_LIMIT)

    def business_day(self, at: datetime) -> tuple[datetime, datetime]:
        """Start and end (exclusive) of the local business day containing ``at``, as aware times."""
        zone = ZoneInfo(self.business_timezone)
        local = at.astimezone(zone)
        start = datetime.combine(local.date(), time(0), tzinfo=zone)
        end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
        return start, end


DZD_FEES: dict[tuple[OperationType, str], FeeRule] = {
    (OperationType.P2P_TRANSFER, "DZD"): FeeRule(
        rate=Decimal("0.005"), minimum=1_000, maximum=20_000
    ),
    (OperationType.BILL_PAYMENT, "DZD"): FeeRule(fixed=2_000),
    (OperationType.CASH_OUT, "DZD"): FeeRule(rate=Decimal("0.01"), minimum=2_000),
    # Paid by the merchant, deducted from the sale (a merchant discount rate).
    (OperationType.PURCHASE, "DZD"): FeeRule(rate=Decimal("0.008")),
}

DZD_LIMITS: dict[tuple[OperationType, str], Limit] = {
    (OperationType.P2P_TRANSFER, "DZD"): Limit(per_transaction=10_000_000, per_day=20_000_000),
    (OperationType.BILL_PAYMENT, "DZD"): Limit(per_transaction=5_000_000, per_day=10_000_000),
    (OperationType.PURCHASE, "DZD"): Limit(per_transaction=10_000_000, per_day=30_000_000),
    (OperationType.CASH_OUT, "DZD"): Limit(per_transaction=5_000_000),
}

DEFAULT_POLICY = PaymentsPolicy(fees=DZD_FEES, limits=DZD_LIMITS)
