"""RFC 9457 problem details: the one table from domain errors to HTTP, and the error handlers.

Every error response of the API, whether a domain error, an unknown route, a wrong method, a
request that fails validation or a bug, is ``application/problem+json`` built here.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from capture.session import PresentationAttackSuspected
from devices import errors as device_errors
from palmvein.core import errors
from payroll import errors as payroll_errors

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:palmvein:problem:"


@dataclass(frozen=True)
class ProblemSpec:
    status: int
    title: str


# The one table. Lookup walks the exception's MRO, so a subclass without its own row inherits its
# parent's status; tests check every DomainError subclass resolves to something other than 500.
ERROR_TABLE: dict[type[errors.DomainError], ProblemSpec] = {
    errors.ValidationFailed: ProblemSpec(422, "Validation failed"),
    errors.CurrencyMismatch: ProblemSpec(422, "Currency mismatch"),
    errors.AuthenticationFailed: ProblemSpec(401, "Authentication required"),
    errors.PermissionDenied: ProblemSpec(403, "Permission denied"),
    errors.NotFound: ProblemSpec(404, "Not found"),
    errors.Conflict: ProblemSpec(409, "Conflict"),
    errors.TooManyAttempts: ProblemSpec(429, "Too many attempts"),
    errors.IntegrityViolation: ProblemSpec(500, "Integrity violation"),
    PresentationAttackSuspected: ProblemSpec(422, "Presentation attack suspected"),
    device_errors.SignatureRejected: ProblemSpec(401, "Device signature rejected"),
    device_errors.WrongDevice: ProblemSpec(403, "Wrong device for this request"),
    device_errors.DeviceRevoked: ProblemSpec(409, "Device revoked"),
    device_errors.InvalidBinding: ProblemSpec(422, "Device binding does not fit its kind"),
    payroll_errors.ImportRejected: ProblemSpec(422, "Employee file refused"),
    payroll_errors.MakerCheckerViolation: ProblemSpec(403, "Approval needs a second person"),
    payroll_errors.RunStateConflict: ProblemSpec(409, "Payroll run step out of order"),
    payroll_errors.AlreadyPaidForPeriod: ProblemSpec(409, "Already paid for this period"),
    payroll_errors.AlreadyReleased: ProblemSpec(409, "Salary already released"),
    payroll_errors.PaidByBankTransfer: ProblemSpec(409, "Salary paid by bank transfer"),
    errors.DomainError: ProblemSpec(400, "Request refused"),
}


def spec_for(error: errors.DomainError) -> ProblemSpec:
    for cls in type(error).__mro__:
        spec = ERROR_TABLE.get(cls)
        if spec is not None:
            return spec
    raise LookupError(f"{type(error).__name__} is not a DomainError")  # pragma: no cover


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    code: str,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_PREFIX}{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DomainError)
    spec = spec_for(exc)
    extensions: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, errors.ValidationFailed) and exc.problems:
        extensions["errors"] = [{"field": p.field, "message": p.message} for p in exc.problems]
    if isinstance(exc, PresentationAttackSuspected):
        extensions["reasons"] = list(exc.reasons)
    if isinstance(exc, errors.TooManyAttempts):
        extensions["retry_after"] = exc.retry_after_seconds
        headers["Retry-After"] = str(exc.retry_after_seconds)
    if isinstance(exc, errors.AuthenticationFailed):
        # Device-signed routes ask for their own scheme; everything else for a bearer token.
        headers["WWW-Authenticate"] = getattr(exc, "challenge", "Bearer")
    return problem_response(
        request,
        status=spec.status,
        title=spec.title,
        detail=exc.message,
        code=exc.code,
        headers=headers or None,
        **extensions,
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    if exc.status_code == 404 and detail == phrase:
        detail = f"no resource at {request.url.path}"
    if exc.status_code == 405 and detail == phrase:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(
        request,
        status=exc.status_code,
        title=phrase,
        detail=detail,
        code=phrase.lower().replace(" ", "-"),
        headers=dict(exc.headers) if exc.headers else None,
    )


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "field": ".".join(str(part) for part in err.get("loc", ())),
            "message": str(err.get("msg", "invalid")),
        }
        for err in exc.errors()
    ]
    return problem_response(
        request,
        status=422,
        title="Validation failed",
        detail=f"the request has {len(problems)} invalid field(s)",
        code="request-validation-failed",
        errors=problems,
    )


def internal_error_response(request: Request) -> JSONResponse:
    return problem_response(
        request,
        status=500,
        title="Internal server error",
        detail="an unexpected error occurred; quote the request id when reporting it",
        code="internal-error",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
