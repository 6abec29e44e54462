"""Staff roles. Every protected endpoint and command names the roles it allows."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    HR_CLERK = "hr_clerk"
    PAYROLL_OFFICER = "payroll_officer"
    PAYROLL_APPROVER = "payroll_approver"
    MERCHANT_CASHIER = "merchant_cashier"
    AUDITOR = "auditor"


ALL_ROLES: frozenset[Role] = frozenset(Role)


def parse_roles(values: str | list[str] | tuple[str, ...]) -> frozenset[Role]:
    """Parse ``"admin,auditor"`` or a list of names; raises ValueError naming the bad one."""
    items = values.split(",") if isinstance(values, str) else list(values)
    roles: set[Role] = set()
    for item in items:
        name = item.strip()
        if not name:
            continue
        try:
            roles.add(Role(name))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {name!r}; known roles: {known}") from None
    return frozenset(roles)
