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

import hashlib
import tempfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from matcher.routes import identify_upload
from palmvein.core.security.roles import Role
from payments import idempotency
from payroll import jobs, paypoint, reports, runs, service
from payroll.documents import Language
from payroll.documents_service import (
    RunDocuments,
    employer_from_settings,
    load_run_documents,
    produce_bank_file,
)
from payroll.models import ReleaseChannel, RunStatus
from payroll.schemas import (
    ManualReleaseIn,
    PayPointClaimOut,
    ReasonIn,
    ReleaseOut,
    RunOpenIn,
    StructureIn,
)

MAX_UPLOAD = 64 * 2**20
PDF = "application/pdf"
CSV = "text/csv; charset=utf-8"
XML = "application/xml"


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def create_router(
    db_session: Any, require_roles: Callable[..., Any], *, require_device: Callable[..., Any]
) -> APIRouter:
    """The payroll router, given the request-session, role-guard and device-guard dependencies.

    ``require_device("pay_point")`` admits only requests signed by a pay-point device and yields
    it (``pay_point_id``, ``actor``).
    """
    router = APIRouter(prefix="/payroll", tags=["payroll"])
    pay_points = require_device("pay_point")
    supervisors = require_roles(Role.PAYROLL_APPROVER, Role.ADMIN)
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

    # -- documents: payslips and the register from computed (preview) to posted; bank files
    # only for a posted run (409 before). Any payroll reader may fetch them.

    def _documents(request: Request, session: Session, run_id: int) -> RunDocuments:
        settings = request.app.state.settings
        return load_run_documents(session, run_id, employer_from_settings(settings))

    def _file(content: bytes, media_type: str, name: str) -> Response:
        return Response(
            content, media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )  # fmt: skip

    def _stem(run: RunDocuments, what: str) -> str:
        preview = "-preview" if run.preview else ""
        return f"{what}-run{run.run_id}-{run.period}{preview}"

    @router.get("/runs/{run_id}/payslips.pdf")
    def run_payslips_pdf(
        run_id: int,
        request: Request,
        session: db_session,
        principal: Annotated[Any, readers],
        language: Annotated[Language, Query()] = "fr",
    ) -> Response:
        """Every payslip of the run, one page each; titled PREVIEW until the run is posted."""
        run = _documents(request, session, run_id)
        return _file(run.payslips_pdf(language), PDF, f"{_stem(run, 'payslips')}-{language}.pdf")

    @router.get("/runs/{run_id}/payslips/{employee_number}.pdf")
    def run_payslip_pdf(
        run_id: int,
        employee_number: str,
        request: Request,
        session: db_session,
        principal: Annotated[Any, readers],
        language: Annotated[Language, Query()] = "fr",
    ) -> Response:
        run = _documents(request, session, run_id)
        data = run.payslip_pdf(employee_number, language)
        return _file(data, PDF, f"{_stem(run, 'payslip')}-{employee_number}-{language}.pdf")

    @router.get("/runs/{run_id}/register.csv")
    def run_register_csv(
        run_id: int, request: Request, session: db_session, principal: Annotated[Any, readers]
    ) -> Response:
        run = _documents(request, session, run_id)
        return _file(run.register_csv(), CSV, f"{_stem(run, 'register')}.csv")

    @router.get("/runs/{run_id}/register.pdf")
    def run_register_pdf(
        run_id: int,
        request: Request,
        session: db_session,
        principal: Annotated[Any, readers],
        language: Annotated[Language, Query()] = "fr",
    ) -> Response:
        run = _documents(request, session, run_id)
        return _file(run.register_pdf(language), PDF, f"{_stem(run, 'register')}-{language}.pdf")

    # Producing a bank file (POST) is what pays its salaries: it books them from the held
    # accounts to bank clearing, once (a second POST books nothing and returns the same
    # transfers), and a pay point then refuses them. GET downloads the produced file again (409
    # until it has been produced).

    def _bank_file(
        request: Request, session: Session, run_id: int, file_format: str, actor: str,
        execution_date: date | None,
    ) -> Response:  # fmt: skip
        settings = request.app.state.settings
        produced = produce_bank_file(
            session, run_id, employer_from_settings(settings),
            file_format="csv" if file_format == "csv" else "pain001",
            actor=actor, now=_now(request), execution_date=execution_date,
        )  # fmt: skip
        run = runs.get_run(session, run_id)
        media, name = (CSV, "bank") if file_format == "csv" else (XML, "pain001")
        extension = "csv" if file_format == "csv" else "xml"
        response = _file(produced.content, media, f"{name}-run{run.id}-{run.period}.{extension}")
        response.headers["X-Transfers-Booked"] = str(produced.settlement.booked)
        return response

    @router.post("/runs/{run_id}/bank.csv")
    def produce_bank_csv(
        run_id: int, request: Request, session: db_session, principal: Annotated[Any, either]
    ) -> Response:
        """Produce the bank transfer CSV of a posted run: its bank salaries become transferred
        (booked to bank clearing) the first time; ``X-Transfers-Booked`` says how many now."""
        return _bank_file(request, session, run_id, "csv", principal.actor, None)

    @router.post("/runs/{run_id}/pain001.xml")
    def produce_pain001(
        run_id: int,
        request: Request,
        session: db_session,
        principal: Annotated[Any, either],
        execution_date: Annotated[date | None, Query(description="Default: today")] = None,
    ) -> Response:
        """Produce the ISO 20022 pain.001.001.09 file of a posted run (books like bank.csv)."""
        return _bank_file(request, session, run_id, "pain001", principal.actor, execution_date)

    @router.get("/runs/{run_id}/bank.csv")
    def run_bank_csv(
        run_id: int, request: Request, session: db_session, principal: Annotated[Any, readers]
    ) -> Response:
        """The produced transfers to the employees paid by bank, one row each with its bank."""
        run = _documents(request, session, run_id)
        return _file(run.bank_csv(), CSV, f"{_stem(run, 'bank')}.csv")

    @router.get("/runs/{run_id}/pain001.xml")
    def run_pain001(
        run_id: int,
        request: Request,
        session: db_session,
        principal: Annotated[Any, readers],
        execution_date: Annotated[date | None, Query(description="Default: today")] = None,
    ) -> Response:
        """The produced pain.001.001.09 credit transfers again (created at first production)."""
        now = _now(request)
        run = _documents(request, session, run_id)
        data = run.pain001_xml(
            execution_date=execution_date or now.date(), created_at=run.transferred_at or now
        )
        return _file(data, XML, f"{_stem(run, 'pain001')}.xml")

    # -- pay points: palm-gated release --------------------------------------------------------

    @router.post("/paypoint/claims")
    def claim_salary(
        request: Request,
        session: db_session,
        device: Annotated[Any, pay_points],
        key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
        image: Annotated[UploadFile, File(description="NIR palm image of the employee")],
        employee_number: Annotated[str, Form(min_length=1, max_length=40)],
        channel: Annotated[ReleaseChannel, Form()] = ReleaseChannel.CASH,
    ) -> JSONResponse:
        """Release an employee's held salaries when their own palm is identified.

        Signed by a pay-point device. A refusal (palm not recognised, someone else's palm, nothing
        held...) is a 422 problem with a ``reason`` and the count of refused attempts; it is
        recorded all the same, and stored under the Idempotency-Key like a release.
        """
        data = image.file.read()
        pay_point = paypoint.pay_point_code(session, device.pay_point_id)
        request_data = {
            "employee_number": employee_number,
            "channel": channel.value,
            "image_sha256": hashlib.sha256(data).hexdigest(),
        }

        def action() -> tuple[int, dict[str, Any]]:
            decision = identify_upload(
                request, session, actor=device.actor, image=data, purpose="salary_release"
            )
            result = paypoint.claim_salary(
                session,
                employee_number=employee_number,
                decision=decision,
                channel=channel,
                device_id=device.actor,
                pay_point=pay_point,
                cashier=device.actor,
                now=_now(request),
            )
            body = PayPointClaimOut.of(result).model_dump(mode="json")
            if not result.released:
                return 422, {
                    "type": "urn:palmvein:problem:salary-release-refused",
                    "title": "Salary not released",
                    "status": 422,
                    "detail": result.reason,
                    "instance": request.url.path,
                    **body,
                }
            return 200, body

        outcome = idempotency.run_idempotent(
            session, scope=device.actor, key=key, operation="payroll_paypoint_claim",
            request=request_data, now=_now(request), action=action,
        )  # fmt: skip
        media = "application/problem+json" if outcome.status >= 400 else "application/json"
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        return JSONResponse(
            outcome.body, status_code=outcome.status, headers=headers, media_type=media
        )

    @router.post("/paypoint/manual-releases", status_code=201)
    def manual_release(
        body: ManualReleaseIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, supervisors],
    ) -> list[ReleaseOut]:
        """A supervisor releases by hand after repeated refused palms, with a written reason."""
        released = paypoint.manual_release(
            session,
            employee_number=body.employee_number,
            supervisor=principal.username,
            reason=body.reason,
            channel=body.channel,
            device_id=f"supervisor:{principal.username}",
            pay_point=body.pay_point,
            now=_now(request),
        )
        return [ReleaseOut.of(r) for r in released]

    return router
