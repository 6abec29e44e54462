"""Settings of the pages that the kernel's settings do not hold.

The composition root puts a :class:`PagesConfig` on ``app.state.pages_config``;
:meth:`PagesConfig.from_environment` reads it from ``PALMVEIN_UI_*`` variables.

Which merchant a cashier works for is not yet recorded by any domain (payments know merchant
accounts, staff users know roles), so it is configured here: ``PALMVEIN_UI_CASHIER_MERCHANTS=
"rania=12,samir=15"`` maps usernames to merchant account ids. The counter page refuses a cashier
who is not mapped.

Pay points are the same: ``PALMVEIN_UI_CASHIER_PAY_POINTS="karim=PP-ALGER-01,omar=PP-ALGER-01"``
maps usernames to pay-point codes (``devices`` pay points, the codes employees are paid at). The
pay-point page acts for that pay point: it is written on every release attempt, and cash is only
paid out there to employees of that pay point. A supervisor who releases by hand is mapped too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from capture.uri import DEFAULT_SCANNER_URI

#: Scanner choices offered on the pages when none are configured: the emulated USB scanner and
#: the simulated sensor, so the pages work on a server with no hardware.
DEFAULT_SCANNERS = (DEFAULT_SCANNER_URI + "?hand_at=80", "sim://")


@dataclass(frozen=True)
class PagesConfig:
    cashier_merchants: Mapping[str, int] = field(default_factory=dict)
    cashier_pay_points: Mapping[str, str] = field(default_factory=dict)
    scanners: tuple[str, ...] = DEFAULT_SCANNERS
    timezone: str = "Africa/Algiers"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PagesConfig:
        env = os.environ if environ is None else environ
        merchants: dict[str, int] = {}
        for item in env.get("PALMVEIN_UI_CASHIER_MERCHANTS", "").split(","):
            name, sep, account = item.partition("=")
            if not sep:
                continue
            try:
                merchants[name.strip().lower()] = int(account)
            except ValueError:
                raise ValueError(
                    f"PALMVEIN_UI_CASHIER_MERCHANTS: {item!r} is not username=account_id"
                ) from None
        pay_points: dict[str, str] = {}
        for item in env.get("PALMVEIN_UI_CASHIER_PAY_POINTS", "").split(","):
            name, sep, code = item.partition("=")
            if not sep:
                continue
            if not name.strip() or not code.strip():
                raise ValueError(
                    f"PALMVEIN_UI_CASHIER_PAY_POINTS: {item!r} is not username=pay_point_code")
            pay_points[name.strip().lower()] = code.strip()
        scanners = tuple(s.strip() for s in env.get("PALMVEIN_UI_SCANNERS", "").split()
                         if s.strip()) or DEFAULT_SCANNERS
        return cls(cashier_merchants=merchants, cashier_pay_points=pay_points, scanners=scanners)
