"""HTTP API of payments: accounts, wallet operations, purchases, statements.

Authentication and the request's unit of work live in the composition root, so the router is
built from them (as the matcher's is)::

    from payments.routes import create_router
    from palmvein.http.auth import DbSession, require_roles
    from devices.routes import require_device
    app.include_router(create_router(DbSession, require_roles, require_device=require_device))

The ``/payments/counter/...`` routes are made by counter terminals, not staff: each request is
signed by the terminal (``require_device("counter_terminal")`` yields the verified device), and
the merchant is the one the terminal is bound to, never one named in the request. Payments
imports nothing from devices; the guard is injected.

Every POST that moves money needs an ``Idempotency-Key`` header: a retry with the same key and
body gets the stored response (``Idempotent-Replayed: true``) and moves nothing; the same key
with another body is a 422 problem; while the first request is still running, a 409 problem.
``GET /payments/operations?client_reference=...`` says what became of a request whose response
was lost. The operator's tariff is ``app.state.payments_policy`` (default: ``DEFAULT_POLICY``).
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency types built inside
# create_router when the endpoints are defined.

import hashlib
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from matcher.routes import identify_upload
from palmvein.core.money import Money
from palmvein.core.security.roles import Role
from payments import counter, idempotency, ledger, service, statements
from payments.models import Account, Operation
from payments.policy import DEFAULT_POLICY, PaymentsPolicy
from payments.schemas import (
    AMOUNT_PATTERN,
    CURRENCY_PATTERN,
    AccountIn,
    AccountOut,
    AmountIn,
    BillerIn,
    BillPaymentIn,
    CashIn,
    OperationOut,
    PinIn,
    PurchaseIn,
    ReferenceIn,
    TransferIn,
)

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=idempotency.MAX_KEY_LENGTH,
        description="Unique per money-moving request (a UUID); repeat it to retry safely.",
    ),
]


def _policy(request: Request) -> PaymentsPolicy:
    policy: PaymentsPolicy = getattr(request.app.state, "payments_policy", DEFAULT_POLICY)
    return policy


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


async def _idempotent(
    request: Request,
    session: Session,
    principal: Any,
    key: str,
    operation: str,
    body: BaseModel | None,
    run: Callable[[], Operation | None],
    *,
    first: Callable[[], None] | None = None,
    **path: Any,
) -> JSONResponse:
    """Run a money-moving request once per Idempotency-Key and commit it, in one worker-thread
    call: the database work and its COMMIT need no second thread hop (the request-session
    dependency finds the transaction already committed and only closes the session). A refusal
    raises before the commit; the dependency then rolls back. ``first`` (a check that may
    raise) runs before the key is looked at, in the same call."""

    def action() -> tuple[int, dict[str, Any]]:
        result = run()
        if result is None:
            return 200, {"operation": None}
        return 201, OperationOut.of(result).model_dump(mode="json")

    request_data = {"body": body.model_dump(mode="json") if body else None, "path": path}
    now = _now(request)

    def run_and_commit() -> idempotency.IdempotentResponse:
        if first is not None:
            first()
        # Committed by run_idempotent: on PostgreSQL the COMMIT goes with the final INSERTs.
        return idempotency.run_idempotent(
            session,
            scope=principal.actor,
            key=key,
            operation=operation,
            request=request_data,
            now=now,
            action=action,
            commit=True,
        )

    return _stored_response(await run_in_threadpool(run_and_commit))


def _stored_response(outcome: idempotency.IdempotentResponse) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    media_type = "application/problem+json" if outcome.status >= 400 else "application/json"
    return JSONResponse(
        outcome.body, status_code=outcome.status, headers=headers, media_type=media_type
    )


def _account_out(session: Session, account: Account) -> AccountOut:
    return AccountOut.of(account, ledger.balance_of(session, account.id))


def create_router(
    db_session: Any, require_roles: Callable[..., Any], *, require_device: Callable[..., Any]
) -> APIRouter:
    """The payments router, given the request-session, role-guard and device-guard dependencies.

    ``require_device(kind)`` must return a dependency that admits only requests signed by a
    device of that kind and yields it (``merchant_account_id``, ``actor``, ``refuse(message)``).
    """
    router = APIRouter(prefix="/payments", tags=["payments"])
    terminals = require_device("counter_terminal")
    tellers = require_roles(Role.MERCHANT_CASHIER, Role.ADMIN)
    admins = require_roles(Role.ADMIN)
    readers = require_roles(Role.MERCHANT_CASHIER, Role.AUDITOR, Role.ADMIN)
    created: dict[int | str, dict[str, Any]] = {201: {"model": OperationOut}}

    # -- accounts and billers (admins) ---------------------------------------------------------

    @router.post("/accounts", status_code=201)
    def open_account(
        body: AccountIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, admins],
    ) -> AccountOut:
        now = _now(request)
        if body.kind == "wallet":
            account = service.open_wallet(
                session,
                person_id=body.owner_id,
                currency=body.currency,
                phone=body.phone or "",
                now=now,
            )
        elif body.kind == "merchant":
            account = service.open_merchant_account(
                session,
                merchant_id=body.owner_id,
                currency=body.currency,
                now=now,
                phone=body.phone,
            )
        else:
            account = service.open_agent_account(
                session, agent_id=body.owner_id, currency=body.currency, now=now, phone=body.phone
            )
        return _account_out(session, account)

    @router.get("/accounts/{account_id}")
    def get_account(
        account_id: int, session: db_session, principal: Annotated[Any, readers]
    ) -> AccountOut:
        return _account_out(session, ledger.get_account(session, account_id))

    @router.put("/accounts/{account_id}/pin", status_code=204)
    def set_pin(
        account_id: int,
        body: PinIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, admins],
    ) -> Response:
        """Set or reset a wallet's PIN (also unlocks it after too many wrong attempts)."""
        counter.set_pin(session, wallet_account_id=account_id, pin=body.pin, now=_now(request))
        return Response(status_code=204)

    @router.post("/billers", status_code=201)
    def register_biller(
        body: BillerIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, admins],
    ) -> dict[str, Any]:
        biller = service.register_biller(
            session,
            code=body.code,
            name=body.name,
            category=body.category,
            currency=body.currency,
            reference_pattern=body.reference_pattern,
            now=_now(request),
        )
        return {"code": biller.code, "account_id": biller.account_id}

    @router.post("/agents/{account_id}/funding", status_code=201, responses=created)
    async def fund_agent(
        account_id: int,
        body: AmountIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, admins],
        key: IdempotencyKey,
    ) -> JSONResponse:
        return await _idempotent(
            request,
            session,
            principal,
            key,
            "fund_agent",
            body,
            lambda: service.fund_agent(
                session,
                _policy(request),
                agent_account_id=account_id,
                amount=body.money(),
                initiator=principal.actor,
                now=_now(request),
                client_reference=body.client_reference,
            ),
            account_id=account_id,
        )

    # -- wallet operations (cashiers, agents) --------------------------------------------------

    @router.post("/cash-in", status_code=201, responses=created)
    async def cash_in(
        body: CashIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, tellers],
        key: IdempotencyKey,
    ) -> JSONResponse:
        return await _idempotent(
            request,
            session,
            principal,
            key,
            "cash_in",
            body,
            lambda: service.cash_in(
                session,
                _policy(request),
                agent_account_id=body.agent_account_id,
                wallet_account_id=body.wallet_account_id,
                amount=body.money(),
                initiator=principal.actor,
                now=_now(request),
                client_reference=body.client_reference,
            ),
        )

    @router.post("/cash-out", status_code=201, responses=created)
    async def cash_out(
        body: CashIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, tellers],
        key: IdempotencyKey,
    ) -> JSONResponse:
        return await _idempotent(
            request,
            session,
            principal,
            key,
            "cash_out",
            body,
            lambda: service.cash_out(
                session,
                _policy(request),
                wallet_account_id=body.wallet_account_id,
                agent_account_id=body.agent_account_id,
                amount=body.money(),
                initiator=principal.actor,
                now=_now(request),
                client_reference=body.client_reference,
            ),
        )

    @router.post("/transfers", status_code=201, responses=created)
    async def transfer(
        body: TransferIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, tellers],
        key: IdempotencyKey,
    ) -> JSONResponse:
        return await _idempotent(
            request,
            session,
            principal,
            key,
            "transfer",
            body,
            lambda: service.transfer_p2p(
                session,
                _policy(request),
                from_wallet_id=body.from_wallet_id,
                to_wallet_id=body.to_wallet_id,
                amount=body.money(),
                initiator=principal.actor,
                now=_now(request),
                client_reference=body.client_reference,
            ),
        )

    @router.post("/bill-payments", status_code=201, responses=created)
    async def pay_bill(
        body: BillPaymentIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, tellers],
        key: IdempotencyKey,
    ) -> JSONResponse:
        return await _idempotent(
            request,
            session,
            principal,
            key,
            "bill_payment",
            body,
            lambda: service.pay_bill(
                session,
                _policy(request),
                wallet_account_id=body.wallet_account_id,
                biller_code=body.biller_code,
                bill_reference=body.bill_reference,
                amount=body.money(),
                initiator=principal.actor,
                now=_now(request),
                client_reference=body.client_reference,
            ),
        )

    # -- purchases at merchants ----------------------------------------------------------------

    @router.post("/purchases", status_code=201, responses=created)
    async def purchase(
        body: PurchaseIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, tellers],
        key: IdempotencyKey,
    ) -> JSONResponse:
        return await _idempotent(
            request,
            session,
            principal,
            key,
            "purchase",
            body,
            lambda: service.purchase(
                session,
                _policy(request),
                payer_wallet_id=body.payer_wallet_id,
                merchant_account_id=body.merchant_account_id,
                amount=body.money(),
                initiator=principal.actor,
                now=_now(request),
                client_reference=body.client_reference,
            ),
        )

    @router.post("/purchases/{operation_id}/void", status_code=201, responses=created)
    async def void(
        operation_id: uuid.UUID,
        body: ReferenceIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, tellers],
        key: IdempotencyKey,
    ) -> JSONResponse:
        return await _idempotent(
            request,
            session,
            principal,
            key,
            "void",
            body,
            lambda: service.void_purchase(
                session,
                _policy(request),
                operation_id=operation_id,
                initiator=principal.actor,
                now=_now(request),
                client_reference=body.client_reference,
            ),
            operation_id=str(operation_id),
        )

    @router.post("/purchases/{operation_id}/refunds", status_code=201, responses=created)
    async def refund(
        operation_id: uuid.UUID,
        body: AmountIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, tellers],
        key: IdempotencyKey,
    ) -> JSONResponse:
        return await _idempotent(
            request,
            session,
            principal,
            key,
            "refund",
            body,
            lambda: service.refund_purchase(
                session,
                _policy(request),
                operation_id=operation_id,
                amount=body.money(),
                initiator=principal.actor,
                now=_now(request),
                client_reference=body.client_reference,
            ),
            operation_id=str(operation_id),
        )

    @router.post("/merchants/{account_id}/settlements", status_code=201, responses=created)
    async def settle(
        account_id: int,
        body: ReferenceIn,
        request: Request,
        session: db_session,
        principal: Annotated[Any, admins],
        key: IdempotencyKey,
    ) -> JSONResponse:
        return await _idempotent(
            request,
            session,
            principal,
            key,
            "settlement",
            body,
            lambda: service.settle_merchant(
                session,
                _policy(request),
                merchant_account_id=account_id,
                initiator=principal.actor,
                now=_now(request),
                client_reference=body.client_reference,
            ),
            account_id=account_id,
        )

    # -- the counter: requests signed by the merchant's terminal ------------------------------

    def _own_sale(session: Session, terminal: Any, operation_id: uuid.UUID) -> None:
        sale = service.get_operation(session, operation_id)
        if sale.payee_account_id != terminal.merchant_account_id:
            raise terminal.refuse(
                f"sale {operation_id} was not made for this terminal's merchant account"
            )

    @router.post("/counter/purchases", status_code=201, responses=created)
    def counter_purchase(
        request: Request,
        session: db_session,
        terminal: Annotated[Any, terminals],
        key: IdempotencyKey,
        image: Annotated[UploadFile, File(description="NIR palm image of the payer")],
        amount: Annotated[str, Form(pattern=AMOUNT_PATTERN)],
        currency: Annotated[str, Form(pattern=CURRENCY_PATTERN)],
        pin: Annotated[str | None, Form(max_length=6)] = None,
        client_reference: Annotated[str | None, Form(min_length=1, max_length=100)] = None,
        merchant_account_id: Annotated[
            int | None,
            Form(description="Optional check: refused (403) unless it is the terminal's own."),
        ] = None,
    ) -> JSONResponse:
        """Palm purchase: identify the payer, check the PIN above the threshold, hold, capture.

        Signed by a counter terminal; the sale is for the terminal's merchant. A declined sale
        (no match, ambiguous, PIN) is a 422 problem with a ``reason``; it is stored under the
        Idempotency-Key like a success, so a retry neither pays nor counts another wrong PIN.
        """
        if merchant_account_id is not None and merchant_account_id != terminal.merchant_account_id:
            raise terminal.refuse(
                f"this terminal sells for merchant account {terminal.merchant_account_id}, "
                f"not {merchant_account_id}"
            )
        merchant: int = terminal.merchant_account_id
        principal = terminal
        data = image.file.read()
        price = Money.of(amount, currency)
        request_data = {
            "merchant_account_id": merchant,
            "amount": amount,
            "currency": currency,
            "client_reference": client_reference,
            # The PIN itself is not fingerprinted: a hash of four digits is no secret.
            "pin_given": pin is not None,
            "image_sha256": hashlib.sha256(data).hexdigest(),
        }

        def action() -> tuple[int, dict[str, Any]]:
            decision = identify_upload(
                request, session, actor=principal.actor, image=data, purpose="payment"
            )
            result = counter.counter_purchase(
                session,
                _policy(request),
                decision=decision,
                merchant_account_id=merchant,
                amount=price,
                pin=pin,
                initiator=principal.actor,
                now=_now(request),
                client_reference=client_reference,
            )
            if result.operation is None:
                assert result.declined is not None
                return 422, {
                    "type": "urn:palmvein:problem:payment-declined",
                    "title": "Payment declined",
                    "status": 422,
                    "detail": result.message,
                    "reason": result.declined.value,
                    "instance": request.url.path,
                }
            return 201, OperationOut.of(result.operation).model_dump(mode="json")

        outcome = idempotency.run_idempotent(
            session,
            scope=principal.actor,
            key=key,
            operation="counter_purchase",
            request=request_data,
            now=_now(request),
            action=action,
        )
        return _stored_response(outcome)

    @router.post("/counter/purchases/{operation_id}/void", status_code=201, responses=created)
    async def counter_void(
        operation_id: uuid.UUID,
        body: ReferenceIn,
        request: Request,
        session: db_session,
        terminal: Annotated[Any, terminals],
        key: IdempotencyKey,
    ) -> JSONResponse:
        """Void one of this terminal's merchant's sales, same business day, before settlement."""
        return await _idempotent(
            request,
            session,
            terminal,
            key,
            "counter_void",
            body,
            lambda: service.void_purchase(
                session,
                _policy(request),
                operation_id=operation_id,
                initiator=terminal.actor,
                now=_now(request),
                client_reference=body.client_reference,
            ),
            first=lambda: _own_sale(session, terminal, operation_id),
            operation_id=str(operation_id),
        )

    @router.post("/counter/purchases/{operation_id}/refunds", status_code=201, responses=created)
    async def counter_refund(
        operation_id: uuid.UUID,
        body: AmountIn,
        request: Request,
        session: db_session,
        terminal: Annotated[Any, terminals],
        key: IdempotencyKey,
    ) -> JSONResponse:
        """Refund part or all of one of this terminal's merchant's sales."""
        return await _idempotent(
            request,
            session,
            terminal,
            key,
            "counter_refund",
            body,
            lambda: service.refund_purchase(
                session,
                _policy(request),
                operation_id=operation_id,
                amount=body.money(),
                initiator=terminal.actor,
                now=_now(request),
                client_reference=body.client_reference,
            ),
            first=lambda: _own_sale(session, terminal, operation_id),
            operation_id=str(operation_id),
        )

    # -- questions -----------------------------------------------------------------------------

    @router.get("/operations")
    def operation_by_reference(
        client_reference: Annotated[str, Query(min_length=1, max_length=100)],
        session: db_session,
        principal: Annotated[Any, readers],
    ) -> OperationOut:
        """What became of the caller's request with this client reference (404: nothing)."""
        return OperationOut.of(
            service.operation_by_client_reference(
                session, initiator=principal.actor, client_reference=client_reference
            )
        )

    @router.get("/operations/{operation_id}")
    def get_operation(
        operation_id: uuid.UUID, session: db_session, principal: Annotated[Any, readers]
    ) -> OperationOut:
        return OperationOut.of(service.get_operation(session, operation_id))

    @router.get("/merchants/{account_id}/statements/{day}.csv")
    def merchant_statement(
        account_id: int,
        day: date,
        request: Request,
        session: db_session,
        principal: Annotated[Any, readers],
    ) -> Response:
        statement = statements.merchant_daily_statement(
            session, _policy(request), merchant_account_id=account_id, day=day
        )
        return Response(
            statements.merchant_statement_csv(statement),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="merchant-{account_id}-{day}.csv"'
            },
        )

    @router.get("/merchants/{account_id}/statements/{day}.pdf")
    def merchant_statement_pdf(
        account_id: int,
        day: date,
        request: Request,
        session: db_session,
        principal: Annotated[Any, readers],
    ) -> Response:
        from payments.statement_pdf import merchant_statement_pdf

        statement = statements.merchant_daily_statement(
            session, _policy(request), merchant_account_id=account_id, day=day
        )
        merchant = ledger.get_account(session, account_id)
        return Response(
            merchant_statement_pdf(statement, merchant_name=merchant.owner_id),
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="merchant-{account_id}-{day}.pdf"'
            },
        )

    @router.get("/accounts/{account_id}/statement.csv")
    def account_statement(
        account_id: int,
        start: datetime,
        end: datetime,
        session: db_session,
        principal: Annotated[Any, readers],
    ) -> Response:
        statement = statements.wallet_statement(
            session, account_id=account_id, start=start, end=end
        )
        return Response(
            statements.wallet_statement_csv(statement),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="account-{account_id}.csv"'},
        )

    return router
