"""Payroll office pages: runs, the preview with its problem list, submit, approval by a second
user, return, posting progress. Every step is :mod:`payroll.runs` (the API's own functions), so
maker-checker and the state machine are the service's rules, shown here as messages.
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency types.

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from enrollment_ui.i18n import N_
from enrollment_ui.web import PREFIX, go_to, render
from palmvein.core.errors import FieldProblem, ValidationFailed
from payroll import jobs, runs
from payroll.models import RunStatus

PAYROLL = f"{PREFIX}/payroll"
_PROBLEMS_SHOWN = 500
#: Batches posted per click: the page shows progress and the officer continues.
_BATCHES_PER_REQUEST = 5

VOCABULARY = (N_("computed"), N_("submitted"), N_("approved"), N_("posting"), N_("posted"),
              N_("cancelled"), N_("suspended"), N_("missing_structure"),
              N_("currency_mismatch"), N_("formula_error"), N_("negative_net"), N_("zero_net"),
              N_("already_paid"), N_("no_account"), N_("not_enrolled"))


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def add_routes(router: APIRouter, db_session: Any, readers: Any, makers: Any,
               checkers: Any) -> None:
    @router.get(PAYROLL)
    def run_list(request: Request, session: db_session,
                 principal: Annotated[Any, readers]) -> Response:
        return render(request, "payroll.html", principal, runs=runs.list_runs(session),
                      today=_now(request))

    @router.post(f"{PAYROLL}/runs")
    def open_run(request: Request, session: db_session, principal: Annotated[Any, makers],
                 period: Annotated[str, Form(max_length=7)] = "",
                 currency: Annotated[str, Form(max_length=3)] = "") -> Response:
        if not period:
            raise ValidationFailed("choose the month", [FieldProblem("period", "YYYY-MM")])
        run = runs.open_run(session, period=period, currency=currency.upper(),
                            actor=principal.actor, now=_now(request))
        return go_to(request, f"{PAYROLL}/runs/{run.id}")

    @router.get(f"{PAYROLL}/runs/{{run_id}}")
    def run_page(run_id: int, request: Request, session: db_session,
                 principal: Annotated[Any, readers]) -> Response:
        summary = runs.summarize(session, run_id, problem_limit=_PROBLEMS_SHOWN)
        return render(request, "payroll_run.html", principal, run=summary,
                      shown=_PROBLEMS_SHOWN)

    def step(path: str, guard: Any, action: Callable[[Session, int, Any, datetime], Any]) -> None:
        @router.post(f"{PAYROLL}/runs/{{run_id}}/{path}", name=f"payroll_page_{path}")
        def endpoint(run_id: int, request: Request, session: db_session,
                     principal: Annotated[Any, guard]) -> Response:
            action(session, run_id, principal, _now(request))
            return go_to(request, f"{PAYROLL}/runs/{run_id}")

    step("compute", makers, lambda s, r, p, now: runs.compute_run(s, r, actor=p.actor, now=now))
    step("submit", makers, lambda s, r, p, now: runs.submit_run(s, r, actor=p.actor, now=now))
    step("approve", checkers,
         lambda s, r, p, now: runs.approve_run(s, r, actor=p.actor, now=now))

    @router.post(f"{PAYROLL}/runs/{{run_id}}/return")
    def return_run(run_id: int, request: Request, session: db_session,
                   principal: Annotated[Any, checkers],
                   reason: Annotated[str, Form(max_length=500)] = "") -> Response:
        if not reason.strip():
            raise ValidationFailed("say why the run goes back",
                                   [FieldProblem("reason", "must not be empty")])
        runs.return_run(session, run_id, actor=principal.actor, reason=reason.strip(),
                        now=_now(request))
        return go_to(request, f"{PAYROLL}/runs/{run_id}")

    @router.post(f"{PAYROLL}/runs/{{run_id}}/post")
    def post_run(run_id: int, request: Request, session: db_session,
                 principal: Annotated[Any, checkers]) -> Response:
        """Post a few batches (each commits on its own, as the API's posting does)."""
        if runs.get_run(session, run_id).status != RunStatus.POSTED.value:
            session.rollback()  # batches commit in their own sessions; hold no snapshot
            factory: sessionmaker[Session] = request.app.state.session_factory
            jobs.post_run(factory, run_id, actor=principal.actor, now=lambda: _now(request),
                          max_batches=_BATCHES_PER_REQUEST)
        return go_to(request, f"{PAYROLL}/runs/{run_id}")
