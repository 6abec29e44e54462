"""Pay-point page: a cashier releases an employee's held salary when their own palm is identified.

The cashier enters the employee number, the employee places the palm (the pay point's scanner, or
an uploaded image) and the page shows the salary released (to the wallet, or the cash to hand
over) or the refusal with its reason. The palm is identified 1:N by
:func:`matcher.routes.identify_upload` and the release is :func:`payroll.paypoint.claim_salary`
under an idempotency key, exactly as ``POST /payroll/paypoint/claims``: a refusal is recorded as
an attempt and stored under the key like a release, so a double click neither releases twice nor
counts a refusal twice. After :data:`payroll.paypoint.MANUAL_RELEASE_AFTER` refused palms a
supervisor (payroll approver or administrator) releases by hand with a written reason
(:func:`payroll.paypoint.manual_release`).

The page acts for the pay point its user is assigned in
:attr:`enrollment_ui.config.PagesConfig.cashier_pay_points`; the browser stands in for the
pay-point device, so attempts and releases carry ``page:<username>`` as their device.
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency types.

import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import cv2
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

import biometric
from capture.session import PresentationAttackSuspected
from enrollment_ui.i18n import N_
from enrollment_ui.pages_persons import _pool
from enrollment_ui.web import PREFIX, pages_config, render
from matcher.routes import identify_upload
from palmvein.core import audit
from palmvein.core.db import unit_of_work
from palmvein.core.errors import FieldProblem, NotFound, ValidationFailed
from payments import idempotency
from payroll import paypoint, reports, service
from payroll.models import AttemptOutcome, PaymentStatus, ReleaseChannel
from payroll.schemas import PayPointClaimOut, ReleaseOut

PAYPOINT = f"{PREFIX}/paypoint"
#: Uploaded palm images are NIR frames of a few hundred KiB; refuse anything far larger.
MAX_IMAGE = 8 * 2**20
#: The API's minimum for a supervisor's written reason (payroll.schemas.ManualReleaseIn).
MIN_REASON = 10

#: What the cashier reads for each refused attempt (payroll.models.AttemptOutcome codes).
OUTCOME_TEXTS: dict[str, str] = {
    AttemptOutcome.NO_MATCH.value: N_("the palm was not recognised; ask the employee to place "
                                      "the palm again, flat and still"),
    AttemptOutcome.AMBIGUOUS.value: N_("the palm is too close to two enrolled people to decide; "
                                       "try again"),
    AttemptOutcome.WRONG_PERSON.value: N_("this palm does not belong to the employee claimed"),
    AttemptOutcome.NOT_ENROLLED.value: N_("the employee has no enrolled palm; send them to HR"),
    AttemptOutcome.NOTHING_HELD.value: N_("no salary is waiting for this employee"),
    AttemptOutcome.WRONG_PAY_POINT.value: N_("this salary is paid in cash at another pay point; "
                                             "release it to the wallet or send the employee "
                                             "there"),
    AttemptOutcome.PAID_BY_BANK.value: N_("this salary is paid by bank transfer to the "
                                          "employee's account, not at a pay point"),
}
VOCABULARY = (N_("wallet"), N_("cash"), N_("held"), N_("released"), N_("reversed"),
              N_("transferred"))


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def pay_point_of(request: Request, principal: Any) -> str:
    """The pay point this user works at; refused if none is configured."""
    code = pages_config(request).cashier_pay_points.get(principal.username)
    if code is None:
        raise NotFound(
            f"{principal.username} is not assigned to a pay point; ask an administrator")
    return code


def _device(principal: Any) -> str:
    return f"page:{principal.username}"


def _channel(value: str) -> ReleaseChannel:
    try:
        return ReleaseChannel(value)
    except ValueError:
        raise ValidationFailed("choose the wallet or cash",
                               [FieldProblem("channel", "wallet or cash")]) from None


def _employee_number(value: str) -> str:
    number = value.strip()
    if not number:
        raise ValidationFailed("enter the employee number",
                               [FieldProblem("employee_number", "must not be empty")])
    return number


def _png(image: Any) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return bytes(data)


def _is_supervisor(principal: Any) -> bool:
    return bool({"payroll_approver", "admin"} & {str(r) for r in principal.roles})


def _is_cashier(principal: Any) -> bool:
    return bool({"merchant_cashier", "admin"} & {str(r) for r in principal.roles})


def _employee_card(request: Request, session: Session, principal: Any, number: str,
                   pay_point: str, **values: Any) -> Response:
    employee = service.get_employee(session, number)
    history = reports.release_history(session, number)
    held = [h for h in history if h.status == PaymentStatus.HELD.value]
    failures = paypoint.failed_attempts(session, employee.id)
    return render(request, "_paypoint_employee.html", principal, employee=employee,
                  history=history[:12], held=held, failures=failures,
                  needed=paypoint.MANUAL_RELEASE_AFTER, pay_point=pay_point,
                  supervisor=_is_supervisor(principal), key=str(uuid.uuid4()),
                  min_reason=MIN_REASON, **values)


def add_routes(router: APIRouter, db_session: Any, desk: Any, cashiers: Any,
               supervisors: Any) -> None:
    """``desk``: who may open the page; ``cashiers`` release by palm; ``supervisors`` by hand."""

    @router.get(PAYPOINT)
    def paypoint_page(request: Request, session: db_session, principal: Annotated[Any, desk],
                      employee: str = "") -> Response:
        pay_point = pay_point_of(request, principal)
        return render(request, "paypoint.html", principal, pay_point=pay_point,
                      key=str(uuid.uuid4()), scanners=pages_config(request).scanners,
                      employee_number=employee.strip()[:40], cashier=_is_cashier(principal),
                      supervisor=_is_supervisor(principal))

    @router.get(f"{PAYPOINT}/employee")
    def employee_card(request: Request, session: db_session, principal: Annotated[Any, desk],
                      employee_number: str = "") -> Response:
        """The employee's salaries waiting here, refused attempts, and the manual release."""
        pay_point = pay_point_of(request, principal)
        number = employee_number.strip()[:40]
        if not number:
            return Response(status_code=200)
        return _employee_card(request, session, principal, number, pay_point)

    @router.post(f"{PAYPOINT}/claims")
    async def claim(request: Request, session: db_session, principal: Annotated[Any, cashiers],
                    idempotency_key: Annotated[str, Form(max_length=100)] = "",
                    employee_number: Annotated[str, Form(max_length=40)] = "",
                    channel: Annotated[str, Form(max_length=10)] = "cash",
                    scanner: Annotated[str, Form(max_length=500)] = "",
                    image: Annotated[UploadFile | None, File()] = None) -> Response:
        """Take the employee's palm and release their held salaries, or say why not."""
        pay_point = pay_point_of(request, principal)
        number = _employee_number(employee_number)
        how = _channel(channel)
        try:
            uuid.UUID(idempotency_key)
        except ValueError:
            raise ValidationFailed("the form is out of date; reload the page",
                                   [FieldProblem("idempotency_key", "not a UUID")]) from None
        upload = await image.read(MAX_IMAGE + 1) if image is not None else b""
        if len(upload) > MAX_IMAGE:
            raise ValidationFailed("the image file is too large",
                                   [FieldProblem("image", "at most 8 MiB")])
        if not scanner and not upload:
            raise ValidationFailed("choose the pay point's scanner or an image file",
                                   [FieldProblem("scanner", "empty")])
        service.get_employee(session, number)  # an unknown number is refused before any capture
        request_data = {"employee_number": number, "channel": how.value, "pay_point": pay_point,
                        "source": scanner or hashlib.sha256(upload).hexdigest()}

        def action() -> tuple[int, dict[str, Any]]:
            if scanner:
                try:
                    data = _png(_pool(request).capture(scanner))
                except PresentationAttackSuspected as suspected:
                    # Kept in its own transaction: the refusal rolls the request's back.
                    with unit_of_work(request.app.state.session_factory) as log:
                        audit.record(log, actor=principal.actor,
                                     action="capture.presentation_attack",
                                     entity_type="payroll_employee", entity_id=number,
                                     data={"scanner": scanner, **suspected.audit_data()})
                    raise
            else:
                data = upload  # identify_upload refuses what is not an image
            try:
                decision = identify_upload(request, session, actor=principal.actor, image=data,
                                           purpose="salary_release")
            except biometric.BiometricError as exc:
                # Not an attempt: nothing was compared. The cashier asks for the palm again.
                raise ValidationFailed(f"the palm could not be read ({exc}); place it again",
                                       [FieldProblem("palm", r) for r in exc.reasons]) from exc
            result = paypoint.claim_salary(
                session, employee_number=number, decision=decision, channel=how,
                device_id=_device(principal), pay_point=pay_point, cashier=principal.actor,
                now=_now(request))
            body = PayPointClaimOut.of(result).model_dump(mode="json")
            return (200 if result.released else 422), body

        outcome = idempotency.run_idempotent(
            session, scope=principal.actor, key=idempotency_key, operation="page_paypoint_claim",
            request=request_data, now=_now(request), action=action)
        body = PayPointClaimOut.model_validate(outcome.body)
        return _employee_card(request, session, principal, number, pay_point,
                              status=outcome.status, claim=body, outcome_texts=OUTCOME_TEXTS,
                              released=[_release(r) for r in body.released])

    @router.post(f"{PAYPOINT}/manual-releases")
    def manual(request: Request, session: db_session, principal: Annotated[Any, supervisors],
               employee_number: Annotated[str, Form(max_length=40)] = "",
               channel: Annotated[str, Form(max_length=10)] = "cash",
               reason: Annotated[str, Form(max_length=500)] = "") -> Response:
        """A supervisor releases by hand after repeated refused palms, saying why."""
        pay_point = pay_point_of(request, principal)
        number = _employee_number(employee_number)
        if len(reason.strip()) < MIN_REASON:
            raise ValidationFailed(
                "write why the palm cannot be used (at least 10 characters)",
                [FieldProblem("reason", f"at least {MIN_REASON} characters")])
        released = paypoint.manual_release(
            session, employee_number=number, supervisor=principal.username,
            reason=reason.strip(), channel=_channel(channel), device_id=_device(principal),
            pay_point=pay_point, now=_now(request))
        return _employee_card(request, session, principal, number, pay_point, manual=True,
                              released=[_release(ReleaseOut.of(r)) for r in released])


def _release(out: ReleaseOut) -> dict[str, Any]:
    return {"amount": out.amount, "currency": out.currency, "channel": out.channel,
            "released_at": out.released_at, "reason": out.supervisor_override_reason}
