"""Payroll office pages: runs, the preview with its problem list, submit, approval by a second
user, return, posting progress, and the run's documents. Every step is :mod:`payroll.runs` (the
API's own functions), so maker-checker and the state machine are the service's rules, shown here
as messages.

Documents come from :mod:`payroll.documents_service` as the API's document routes do: payslips
(one employee or the whole run) and the salary register from the computed preview on, titled
PREVIEW until the run is posted; the bank files only for a posted run. PDFs are in the page's
language.
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency types.

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from enrollment_ui.i18n import N_
from enrollment_ui.web import PREFIX, go_to, language_of, render
from palmvein.core.errors import FieldProblem, ValidationFailed
from payroll import jobs, runs, transfers
from payroll.documents import Language as DocumentLanguage
from payroll.documents_service import (
    FINAL_STATES,
    PREVIEW_STATES,
    BankFormat,
    RunDocuments,
    employer_from_settings,
    load_run_documents,
    produce_bank_file,
)
from payroll.models import RunStatus

PAYROLL = f"{PREFIX}/payroll"
_PROBLEMS_SHOWN = 500
#: Batches posted per click: the page shows progress and the officer continues.
_BATCHES_PER_REQUEST = 5

VOCABULARY = (N_("computed"), N_("submitted"), N_("approved"), N_("posting"), N_("posted"),
              N_("cancelled"), N_("suspended"), N_("missing_structure"),
              N_("currency_mismatch"), N_("formula_error"), N_("negative_net"), N_("zero_net"),
              N_("already_paid"), N_("no_account"), N_("not_enrolled"))


PDF = "application/pdf"
CSV = "text/csv; charset=utf-8"
XML = "application/xml"
#: The bank file formats the page offers (its buttons' ``file_format``).
BANK_FORMATS: dict[str, BankFormat] = {"csv": "csv", "pain001": "pain001"}


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def _documents(request: Request, session: Session, run_id: int) -> RunDocuments:
    return load_run_documents(session, run_id, employer_from_settings(request.app.state.settings))


def _document_language(request: Request) -> DocumentLanguage:
    code = language_of(request).code
    return "ar" if code == "ar" else "fr" if code == "fr" else "en"


def _file(content: bytes, media_type: str, name: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _stem(run: RunDocuments, what: str) -> str:
    """The API's file names (payroll.routes), so a file is the same whichever way it came."""
    return f"{what}-run{run.run_id}-{run.period}" + ("-preview" if run.preview else "")


def add_routes(router: APIRouter, db_session: Any, readers: Any, makers: Any,
               checkers: Any, producers: Any) -> None:
    """``producers`` produce the bank file (officers or approvers, as the API's POST)."""
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
        progress = settlement = None
        if summary.status in (RunStatus.POSTING, RunStatus.POSTED):
            # Counts and sums from one aggregate query (payroll.runs.release_progress); the
            # settlement says when and by whom the bank file was produced.
            progress = runs.release_progress(session, run_id)
            settlement = transfers.bank_settlement(session, run_id)
        return render(request, "payroll_run.html", principal, run=summary,
                      shown=_PROBLEMS_SHOWN, progress=progress, settlement=settlement,
                      documents=summary.status in PREVIEW_STATES | FINAL_STATES,
                      final=summary.status in FINAL_STATES)

    # -- documents (any payroll reader, as the API's) --------------------------------------------

    @router.get(f"{PAYROLL}/runs/{{run_id}}/payslips.pdf")
    def payslips_pdf(run_id: int, request: Request, session: db_session,
                     principal: Annotated[Any, readers]) -> Response:
        run, language = _documents(request, session, run_id), _document_language(request)
        return _file(run.payslips_pdf(language), PDF, f"{_stem(run, 'payslips')}-{language}.pdf")

    @router.get(f"{PAYROLL}/runs/{{run_id}}/payslip.pdf")
    def payslip_pdf(run_id: int, request: Request, session: db_session,
                    principal: Annotated[Any, readers], employee_number: str = "") -> Response:
        number = employee_number.strip()[:40]
        if not number:
            raise ValidationFailed("enter the employee number",
                                   [FieldProblem("employee_number", "must not be empty")])
        run, language = _documents(request, session, run_id), _document_language(request)
        return _file(run.payslip_pdf(number, language), PDF,
                     f"{_stem(run, 'payslip')}-{number}-{language}.pdf")

    @router.get(f"{PAYROLL}/runs/{{run_id}}/register.csv")
    def register_csv(run_id: int, request: Request, session: db_session,
                     principal: Annotated[Any, readers]) -> Response:
        run = _documents(request, session, run_id)
        return _file(run.register_csv(), CSV, f"{_stem(run, 'register')}.csv")

    @router.get(f"{PAYROLL}/runs/{{run_id}}/register.pdf")
    def register_pdf(run_id: int, request: Request, session: db_session,
                     principal: Annotated[Any, readers]) -> Response:
        run, language = _documents(request, session, run_id), _document_language(request)
        return _file(run.register_pdf(language), PDF, f"{_stem(run, 'register')}-{language}.pdf")

    @router.post(f"{PAYROLL}/runs/{{run_id}}/bank-file")
    def produce_bank(run_id: int, request: Request, session: db_session,
                     principal: Annotated[Any, producers],
                     file_format: Annotated[str, Form()] = "") -> Response:
        """Produce the bank file: the run's held bank salaries are booked as transferred (once;
        again books nothing), then the page offers the file for download. A format other than
        the two offered is refused before anything is booked."""
        if file_format not in BANK_FORMATS:
            raise ValidationFailed(
                f"unknown bank file format {file_format[:20]!r}: choose one of "
                f"{', '.join(BANK_FORMATS)}; nothing was booked",
                [FieldProblem("file_format", f"one of {', '.join(BANK_FORMATS)}")])
        produce_bank_file(session, run_id, employer_from_settings(request.app.state.settings),
                          file_format=BANK_FORMATS[file_format], actor=principal.actor,
                          now=_now(request))
        return go_to(request, f"{PAYROLL}/runs/{run_id}")

    @router.get(f"{PAYROLL}/runs/{{run_id}}/bank.csv")
    def bank_csv(run_id: int, request: Request, session: db_session,
                 principal: Annotated[Any, readers]) -> Response:
        run = _documents(request, session, run_id)
        return _file(run.bank_csv(), CSV, f"{_stem(run, 'bank')}.csv")

    @router.get(f"{PAYROLL}/runs/{{run_id}}/pain001.xml")
    def pain001_xml(run_id: int, request: Request, session: db_session,
                    principal: Annotated[Any, readers]) -> Response:
        now = _now(request)
        run = _documents(request, session, run_id)
        data = run.pain001_xml(execution_date=now.date(), created_at=run.transferred_at or now)
        return _file(data, XML, f"{_stem(run, 'pain001')}.xml")

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
