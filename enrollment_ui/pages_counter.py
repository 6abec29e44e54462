"""Merchant counter pages: amount, "place your palm", the result, receipt, void, refund, the day.

The counter acts for the cashier's own merchant (:class:`enrollment_ui.config.PagesConfig`).
Every money-moving form carries an idempotency key made when the form was drawn, and the action
runs through :func:`payments.idempotency.run_idempotent` exactly as the API's does: a double
click or a browser retry books nothing twice and shows the first outcome again.
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency types.

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

import biometric
from enrollment_ui.config import PagesConfig
from enrollment_ui.i18n import N_
from enrollment_ui.pages_persons import _config, _pool
from enrollment_ui.web import PREFIX, render
from matcher.routes import follower_for
from matcher.service import MatcherService
from palmvein.core.errors import FieldProblem, NotFound, PermissionDenied, ValidationFailed
from palmvein.core.money import Money
from payments import counter, idempotency, ledger, service, statements
from payments.models import Account, Operation
from payments.policy import DEFAULT_POLICY, PaymentsPolicy

COUNTER = f"{PREFIX}/counter"

#: What the cashier reads when a sale is declined (payments.counter.DeclineReason codes).
DECLINE_TEXTS: dict[str, str] = {
    counter.DeclineReason.NO_MATCH.value: N_("the palm matches no enrolled payer"),
    counter.DeclineReason.AMBIGUOUS.value: N_("the palm is too close to more than one payer; "
                                              "place it again"),
    counter.DeclineReason.NO_WALLET.value: N_("the payer has no wallet in this currency"),
    counter.DeclineReason.PIN_REQUIRED.value: N_("this amount needs the payer's PIN"),
    counter.DeclineReason.PIN_NOT_SET.value: N_("the payer has no PIN; amounts above the PIN "
                                                "limit are refused"),
    counter.DeclineReason.PIN_INCORRECT.value: N_("wrong PIN"),
    counter.DeclineReason.PIN_LOCKED.value: N_("the PIN is locked after too many wrong attempts"),
}
VOCABULARY = (N_("purchase"), N_("void"), N_("refund"), N_("settlement"), N_("authorized"),
              N_("completed"), N_("voided"), N_("expired"))


def _policy(request: Request) -> PaymentsPolicy:
    policy: PaymentsPolicy = getattr(request.app.state, "payments_policy", DEFAULT_POLICY)
    return policy


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def merchant_of(request: Request, session: Session, principal: Any) -> Account:
    """The merchant account this cashier works for; refused if none is configured."""
    config: PagesConfig = _config(request)
    account_id = config.cashier_merchants.get(principal.username)
    if account_id is None:
        # Not a missing permission (the role is right) but a missing assignment.
        raise NotFound(
            f"{principal.username} is not assigned to a merchant; ask an administrator")
    return ledger.get_account(session, account_id)


def _own_operation(session: Session, merchant: Account, operation_id: uuid.UUID) -> Operation:
    operation = service.get_operation(session, operation_id)
    if merchant.id not in (operation.payee_account_id, operation.payer_account_id):
        raise PermissionDenied("this receipt belongs to another merchant")
    return operation


def _today(request: Request) -> date:
    return _policy(request).business_day(_now(request))[0].date()


def _idempotent(request: Request, session: Session, principal: Any, key: str, operation: str,
                data: dict[str, Any], action: Callable[[], tuple[int, dict[str, Any]]]
                ) -> idempotency.IdempotentResponse:
    try:
        uuid.UUID(key)
    except ValueError:
        raise ValidationFailed("the form is out of date; reload the page",
                               [FieldProblem("idempotency_key", "not a UUID")]) from None
    return idempotency.run_idempotent(session, scope=principal.actor, key=key,
                                      operation=operation, request=data, now=_now(request),
                                      action=action)


def _done(status: int, operation: Operation | None) -> tuple[int, dict[str, Any]]:
    return status, {"operation_id": str(operation.id) if operation else None}


def add_routes(router: APIRouter, db_session: Any, cashiers: Any) -> None:
    def day_page(request: Request, session: Session, principal: Any, **values: Any) -> Response:
        merchant = merchant_of(request, session, principal)
        day = _today(request)
        statement = statements.merchant_daily_statement(
            session, _policy(request), merchant_account_id=merchant.id, day=day)
        return render(request, "counter.html", principal, merchant=merchant, day=day,
                      statement=statement, key=str(uuid.uuid4()),
                      scanners=_config(request).scanners, **values)

    @router.get(COUNTER)
    def counter_page(request: Request, session: db_session,
                     principal: Annotated[Any, cashiers]) -> Response:
        return day_page(request, session, principal)

    @router.post(f"{COUNTER}/purchases")
    def purchase(request: Request, session: db_session, principal: Annotated[Any, cashiers],
                 idempotency_key: Annotated[str, Form(max_length=100)] = "",
                 amount: Annotated[str, Form(max_length=30)] = "",
                 pin: Annotated[str, Form(max_length=6)] = "",
                 scanner: Annotated[str, Form(max_length=500)] = "") -> Response:
        """Take the payer's palm from the counter's scanner and pay, or say why not."""
        merchant = merchant_of(request, session, principal)
        price = Money.of(amount.strip().replace(",", "."), merchant.currency)
        if not scanner:
            raise ValidationFailed("choose the counter's scanner",
                                   [FieldProblem("scanner", "empty")])
        data = {"merchant_account_id": merchant.id, "amount": str(price.minor),
                "currency": price.currency, "pin_given": bool(pin), "scanner": scanner}

        def action() -> tuple[int, dict[str, Any]]:
            image = _pool(request).capture(scanner)
            matcher = MatcherService(session, follower_for(request, session),
                                     actor=principal.actor, clock=request.app.state.clock)
            try:
                decision = matcher.identify(image, purpose="payment")
            except biometric.BiometricError as exc:
                # Nothing moved and nothing is kept: the cashier simply asks for the palm again.
                raise ValidationFailed(f"the palm could not be read ({exc}); place it again",
                                       [FieldProblem("palm", r) for r in exc.reasons]) from exc
            result = counter.counter_purchase(
                session, _policy(request), decision=decision, merchant_account_id=merchant.id,
                amount=price, pin=pin or None, initiator=principal.actor, now=_now(request))
            if result.operation is None:
                assert result.declined is not None
                return 422, {"declined": result.declined.value, "detail": result.message}
            return _done(201, result.operation)

        outcome = _idempotent(request, session, principal, idempotency_key, "page_purchase",
                              data, action)
        if outcome.body.get("declined"):
            return render(request, "_declined.html", principal, status=422,
                          decline_texts=DECLINE_TEXTS,
                          reason=outcome.body["declined"], detail=outcome.body["detail"],
                          amount=price)
        operation = _own_operation(session, merchant, uuid.UUID(outcome.body["operation_id"]))
        return render(request, "_receipt.html", principal, operation=operation,
                      merchant=merchant, key=str(uuid.uuid4()), refund_key=str(uuid.uuid4()))

    @router.get(f"{COUNTER}/receipts/{{operation_id}}")
    def receipt(operation_id: uuid.UUID, request: Request, session: db_session,
                principal: Annotated[Any, cashiers]) -> Response:
        merchant = merchant_of(request, session, principal)
        operation = _own_operation(session, merchant, operation_id)
        return render(request, "receipt.html", principal, operation=operation,
                      merchant=merchant, key=str(uuid.uuid4()), refund_key=str(uuid.uuid4()))

    @router.post(f"{COUNTER}/receipts/{{operation_id}}/void")
    def void(operation_id: uuid.UUID, request: Request, session: db_session,
             principal: Annotated[Any, cashiers],
             idempotency_key: Annotated[str, Form(max_length=100)] = "") -> Response:
        merchant = merchant_of(request, session, principal)
        _own_operation(session, merchant, operation_id)
        outcome = _idempotent(
            request, session, principal, idempotency_key, "page_void",
            {"operation_id": str(operation_id)},
            lambda: _done(201, service.void_purchase(
                session, _policy(request), operation_id=operation_id,
                initiator=principal.actor, now=_now(request))))
        done = _own_operation(session, merchant, uuid.UUID(outcome.body["operation_id"]))
        return render(request, "_undone.html", principal, operation=done,
                      original_id=operation_id)

    @router.post(f"{COUNTER}/receipts/{{operation_id}}/refunds")
    def refund(operation_id: uuid.UUID, request: Request, session: db_session,
               principal: Annotated[Any, cashiers],
               idempotency_key: Annotated[str, Form(max_length=100)] = "",
               amount: Annotated[str, Form(max_length=30)] = "") -> Response:
        merchant = merchant_of(request, session, principal)
        _own_operation(session, merchant, operation_id)
        back = Money.of(amount.strip().replace(",", "."), merchant.currency)
        outcome = _idempotent(
            request, session, principal, idempotency_key, "page_refund",
            {"operation_id": str(operation_id), "amount": str(back.minor)},
            lambda: _done(201, service.refund_purchase(
                session, _policy(request), operation_id=operation_id, amount=back,
                initiator=principal.actor, now=_now(request))))
        done = _own_operation(session, merchant, uuid.UUID(outcome.body["operation_id"]))
        return render(request, "_undone.html", principal, operation=done,
                      original_id=operation_id)

