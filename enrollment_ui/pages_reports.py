"""Payroll office reports: salaries unclaimed after N days, one palm on several employee records,
employees never enrolled, and one employee's release history; each is :mod:`payroll.reports`,
the functions behind the API's ``/payroll/reports/...`` routes.
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency types.

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from enrollment_ui.i18n import N_
from enrollment_ui.web import PREFIX, render
from payroll import reports

REPORTS = f"{PREFIX}/reports"
DEFAULT_DAYS = 30

#: Why an employee cannot be paid by palm (payroll.reports.NotEnrolled.reason).
NOT_ENROLLED_TEXTS: dict[str, str] = {
    "no palm linked": N_("no palm linked"),
    "enrolment not completed": N_("enrolment not completed"),
    "person deleted": N_("person deleted"),
}
VOCABULARY = (N_("bank"), N_("pay_point"))


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def add_routes(router: APIRouter, db_session: Any, readers: Any) -> None:
    @router.get(REPORTS)
    def index(request: Request, principal: Annotated[Any, readers]) -> Response:
        return render(request, "reports.html", principal, report=None, days=DEFAULT_DAYS)

    @router.get(f"{REPORTS}/unclaimed")
    def unclaimed(request: Request, session: db_session, principal: Annotated[Any, readers],
                  days: Annotated[int, Query(ge=0, le=3650)] = DEFAULT_DAYS) -> Response:
        rows = reports.unclaimed(session, older_than_days=days, now=_now(request))
        return render(request, "reports.html", principal, report="unclaimed", rows=rows,
                      days=days)

    @router.get(f"{REPORTS}/shared-palms")
    def shared_palms(request: Request, session: db_session,
                     principal: Annotated[Any, readers]) -> Response:
        return render(request, "reports.html", principal, report="shared",
                      rows=reports.shared_palms(session), days=DEFAULT_DAYS)

    @router.get(f"{REPORTS}/never-enrolled")
    def never_enrolled(request: Request, session: db_session,
                       principal: Annotated[Any, readers]) -> Response:
        return render(request, "reports.html", principal, report="never",
                      rows=reports.never_enrolled(session), days=DEFAULT_DAYS,
                      reasons=NOT_ENROLLED_TEXTS)

    @router.get(f"{REPORTS}/history")
    def history(request: Request, session: db_session, principal: Annotated[Any, readers],
                employee_number: str = "") -> Response:
        number = employee_number.strip()[:40]
        rows = reports.release_history(session, number) if number else []
        return render(request, "reports.html", principal, report="history", rows=rows,
                      days=DEFAULT_DAYS, employee_number=number)
