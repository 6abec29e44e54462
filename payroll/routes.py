"""HTTP API of payroll: employee import, structures, runs (maker-checker), reports.

Built from the composition root's dependencies, like the other domains::

    from payroll.routes import create_router
    app.include_router(create_router(DbSession, require_roles))

Payroll officers make (import, open, compute, submit), payroll approvers check (approve, return,
post); the API refuses an approval by the user who submitted. Posting commits batch by batch
(``max_batches`` per request keeps requests short; call again to go on) and posting a posted run
returns it unchanged, so a retried request never books twice. Cancelling moves money back and
needs an ``Idempotency-Key`` header.
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency types built inside
# create_router when the endpoints are defined.

import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.security.roles import Role
from payments import idempotency
from payroll import jobs, reports, runs, service
from payroll.models import RunStatus
from payroll.schemas import ReasonIn, RunOpenIn, StructureIn

MAX_UPLOAD = 64 * 2**20


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def create_router(db_session: Any, require_roles: Callable[..., Any]) -> APIRouter:
    """The payroll router, given the request-session and role-guard dependencies."""
    router = APIRouter(prefix="/payroll", tags=["payroll"])
    makers = require_roles(Role.PAYROLL_OFFICER)
    importers = require_roles(Role.PAYROLL_OFFICER, Role.HR_CLERK)
    checkers = require_roles(Role.PAYROLL_APPROVER)
    either = require_roles(Role.PAYROLL_OFFICER, Role.PAYROLL_APPROVER)
    readers = require_roles(Role.PAYROLL_OFFICER, Role.PAYROLL_APPROVER, Role.AUDITOR)

    @router.post("/employees/import")
    async def import_employees(
        request: Request,
        session: db_session,
        principal: Annotated[Any, importers],
        file: Annotated[UploadFile, File(description="Employee file, .csv or .xlsx")],
        currency: Annotated[str, Query(pattern=r"^[A-Z]{3}$")] = "DZD",
        check_only: bool = False,
    ) -> dict[str, Any]:
        """Check, and unless ``check_only`` book, an employee file: all or nothing. A file with
        problems is a 422 problem whose ``errors`` list every row and column."""
        suffix = Path(file.filename or "upload.csv").suffix.lower()
        data = await file.read(MAX_UPLOAD + 1)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"employees{suffix}"
            path.write_bytes(data[:MAX_UPLOAD])
            records, report = service.check_import(session, path, currency=currency)
        if report.problems:
            raise service.rejected(report)
        if not check_only:
            report = service.import_employees(
                session, records, rows=report.rows, actor=principal.actor, now=_now(request)
            )
        return report.as_dict()

    @router.post("/structures", status_code=201)
    def add_structure(
        body: StructureIn, request: Request, session: db_session, principal: Annotated[Any, makers]
    ) -> dict[str, Any]:
        row = service.add_structure(
            session,
            grade=body.grade,
            currency=body.currency,
            effective_from=body.effective_from,
            definition=body.definition,
            actor=principal.actor,
            now=_now(request),
        )
        return {"id": row.id, "grade": row.grade, "effective_from": row.effective_from}

    @router.post("/runs", status_code=201)
    def open_run(
        body: RunOpenIn, request: Request, session: db_session, principal: Annotated[Any, makers]
    ) -> dict[str, Any]:
        run = runs.open_run(
            session,
            period=body.period,
            currency=body.currency,
            actor=principal.actor,
            now=_now(request),
        )
        return runs.summarize(session, run.id).as_dict()

    @router.get("/runs")
    def list_runs(session: db_session, principal: Annotated[Any, readers]) -> list[dict[str, Any]]:
        return [
            {"id": r.id, "period": r.period, "currency": r.currency, "status": r.status}
            for r in runs.list_runs(session)
        ]

    @router.get("/runs/{run_id}")
    def show_run(
        run_id: int,
        session: db_session,
        principal: Annotated[Any, readers],
        problems: Annotated[int, Query(ge=0, le=100_000)] = 1000,
    ) -> dict[str, Any]:
        return runs.summarize(session, run_id, problem_limit=problems).as_dict()

    @router.post("/runs/{run_id}/compute")
    def compute_run(
        run_id: int, request: Request, session: db_session, principal: Annotated[Any, makers]
    ) -> dict[str, Any]:
        runs.compute_run(session, run_id, actor=principal.actor, now=_now(request))
        return runs.summarize(session, run_id, problem_limit=1000).as_dict()

    @router.post("/runs/{run_id}/submit")
    def submit_run(
        run_id: int, request: Request, session: db_session, principal: Annotated[Any, makers]
    ) -> dict[str, Any]:
        runs.submit_run(session, run_id, actor=principal.actor, now=_now(request))
        return runs.summarize(session, run_id, problem_limit=0).as_dict()

    @router.post("/runs/{run_id}/approve")
    def approve_run(
        run_id: int, request: Request, session: db_session, principal: Annotated[Any, checkers]
    ) -> dict[str, Any]:
        runs.approve_run(session, run_id, actor=principal.actor, now=_now(request))
        return runs.summarize(session, run_id, problem_limit=0).as_dict()

    @router.post("/runs/{run_id}/return")
    def return_run(
        run_id: int,
        body: ReasonIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, checkers],
    ) -> dict[str, Any]:
        runs.return_run(
            session, run_id, actor=principal.actor, reason=body.reason, now=_now(request)
        )
        return runs.summarize(session, run_id, problem_limit=0).as_dict()

    @router.post("/runs/{run_id}/post")
    def post_run(
        run_id: int,
        request: Request,
        session: db_session,
        principal: Annotated[Any, checkers],
        max_batches: Annotated[int, Query(ge=1, le=1000)] = 50,
        batch_size: Annotated[int, Query(ge=1, le=20_000)] = runs.DEFAULT_BATCH,
    ) -> dict[str, Any]:
        """Post up to ``max_batches`` batches; ``status`` stays ``posting`` until all are in."""
        if runs.get_run(session, run_id).status == RunStatus.POSTED.value:
            return runs.summarize(session, run_id, problem_limit=0).as_dict()
        session.rollback()  # batches commit in their own sessions; hold no snapshot meanwhile
        factory: sessionmaker[Session] = request.app.state.session_factory
        summary = jobs.post_run(
            factory,
            run_id,
            actor=principal.actor,
            now=lambda: _now(request),
            batch_size=batch_size,
            max_batches=max_batches,
        )
        return summary.as_dict()

    @router.post("/runs/{run_id}/cancel")
    def cancel_run(
        run_id: int,
        body: ReasonIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, either],
        key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
    ) -> JSONResponse:
        def action() -> tuple[int, dict[str, Any]]:
            summary = runs.cancel_run(
                session, run_id, actor=principal.actor, reason=body.reason, now=_now(request)
            )
            return 200, summary.as_dict()

        outcome = idempotency.run_idempotent(
            session,
            scope=principal.actor,
            key=key,
            operation="payroll_cancel_run",
            request={"run_id": run_id, "body": body.model_dump()},
            now=_now(request),
            action=action,
        )
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)

    @router.get("/reports/unclaimed")
    def unclaimed(
        request: Request,
        session: db_session,
        principal: Annotated[Any, readers],
        days: Annotated[int, Query(ge=0, le=3650)] = 30,
    ) -> list[dict[str, Any]]:
        found = reports.unclaimed(session, older_than_days=days, now=_now(request))
        return reports.as_rows(found)

    @router.get("/reports/shared-palms")
    def shared_palms(
        session: db_session, principal: Annotated[Any, readers]
    ) -> list[dict[str, Any]]:
        return reports.as_rows(reports.shared_palms(session))

    @router.get("/reports/never-enrolled")
    def never_enrolled(
        session: db_session, principal: Annotated[Any, readers]
    ) -> list[dict[str, Any]]:
        return reports.as_rows(reports.never_enrolled(session))

    @router.get("/employees/{employee_number}/history")
    def history(
        employee_number: str, session: db_session, principal: Annotated[Any, readers]
    ) -> list[dict[str, Any]]:
        return reports.as_rows(reports.release_history(session, employee_number))

    return router
