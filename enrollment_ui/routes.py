"""The pages' router, built by the composition root from its dependencies (as the domain
routers are): the request's unit of work, the role guard, the public marker and browser sign-in.
Every page declares who may open it, so the generated route-access test covers pages too.
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency types.

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from enrollment_ui import (
    pages_auth,
    pages_counter,
    pages_paypoint,
    pages_payroll,
    pages_persons,
    pages_reports,
)
from enrollment_ui.web import BrowserSessions
from palmvein.core.security.roles import ALL_ROLES, Role


def create_router(db_session: Any, require_roles: Callable[..., Any], public: Any,
                  sessions: BrowserSessions) -> APIRouter:
    """Pages under ``/ui`` (and ``/`` redirecting there); ``public`` is the root's marker."""
    router = APIRouter(tags=["pages"], include_in_schema=False)
    any_staff = require_roles(*ALL_ROLES)
    # The same role sets as the matcher's and payments' API routes.
    enrollers = require_roles(Role.HR_CLERK, Role.ADMIN)
    admins = require_roles(Role.ADMIN)
    cashiers = require_roles(Role.MERCHANT_CASHIER, Role.ADMIN)
    pages_auth.add_routes(router, db_session, public, any_staff, sessions)
    pages_persons.add_routes(router, db_session, enrollers, admins)
    pages_counter.add_routes(router, db_session, cashiers)
    # Pay points: cashiers release by palm, supervisors (as the API's manual release) by hand.
    pages_paypoint.add_routes(
        router, db_session,
        desk=require_roles(Role.MERCHANT_CASHIER, Role.PAYROLL_APPROVER, Role.ADMIN),
        cashiers=cashiers, supervisors=require_roles(Role.PAYROLL_APPROVER, Role.ADMIN))
    # The payroll API's role sets: officers make, approvers check, auditors read.
    payroll_readers = require_roles(Role.PAYROLL_OFFICER, Role.PAYROLL_APPROVER, Role.AUDITOR)
    pages_payroll.add_routes(
        router, db_session, readers=payroll_readers,
        makers=require_roles(Role.PAYROLL_OFFICER),
        checkers=require_roles(Role.PAYROLL_APPROVER),
        producers=require_roles(Role.PAYROLL_OFFICER, Role.PAYROLL_APPROVER))
    pages_reports.add_routes(router, db_session, payroll_readers)
    return router
