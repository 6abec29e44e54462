"""HTTP API of the matcher: persons, enrolment, identification, duplicate cases.

The composition root provides authentication and the request's unit of work, which live above
this package, so the router is built by :func:`create_router` from those dependencies::

    from matcher.routes import create_router
    from palmvein.http.auth import DbSession, require_roles
    app.include_router(create_router(DbSession, require_roles))

Enrolment and deletion take effect in the index through the change log: the request commits,
and every worker applies the change before its next search.
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency types built inside
# create_router when the endpoints are defined.

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np
from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from matcher.crypto import Keyring
from matcher.decision import Decision
from matcher.models import CaseStatus
from matcher.repository import IndexFollower
from matcher.schemas import (
    CaseOut,
    DecisionOut,
    EnrolmentOut,
    PersonIn,
    PersonOut,
    ResolutionIn,
)
from matcher.service import EnrolmentOutcome, MatcherService
from palmvein.core.errors import FieldProblem, ValidationFailed
from palmvein.core.security.roles import Role

#: Environment variable naming the index snapshot file (optional).
SNAPSHOT_ENV = "PALMVEIN_INDEX_SNAPSHOT"
_follower_lock = threading.Lock()


def identify_upload(
    request: Request, session: Session, *, actor: str, image: bytes, purpose: str
) -> Decision:
    """1:N decision on an uploaded palm image, for the routes that pay on a palm.

    ``app.state.identify_override(session, image, purpose)``, when set, answers instead (tests and
    demos that script the matcher's decision).
    """
    override = getattr(request.app.state, "identify_override", None)
    if override is not None:
        decision: Decision = override(session, image, purpose)
        return decision
    probe = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)
    if probe is None:
        raise ValidationFailed(
            "the palm image cannot be read",
            [FieldProblem("image", "PNG, JPEG or another image OpenCV reads")],
        )
    service = MatcherService(
        session, follower_for(request, session), actor=actor, clock=request.app.state.clock
    )
    return service.identify(np.asarray(probe, dtype=np.uint8), purpose=purpose)


def follower_for(request: Request, session: Session) -> IndexFollower:
    """The worker's index follower, created and started on first use."""
    state = request.app.state
    with _follower_lock:
        follower: IndexFollower | None = getattr(state, "matcher_follower", None)
        if follower is None:
            settings = state.settings
            keyring = Keyring.from_environment(settings.secret_key.get_secret_value(),
                                               production=settings.is_production)
            snapshot = os.environ.get(SNAPSHOT_ENV)
            follower = IndexFollower(keyring, snapshot_path=Path(snapshot) if snapshot else None)
            follower.start(session)
            state.matcher_follower = follower
        return follower


async def _decode(upload: UploadFile, field: str) -> np.ndarray:
    data = await upload.read()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValidationFailed("an uploaded file is not an image",
                               [FieldProblem(field, "PNG, JPEG or another image OpenCV reads")])
    return image


def create_router(db_session: Any, require_roles: Callable[..., Any]) -> APIRouter:
    """The matcher's router, given the request-session and role-guard dependencies."""
    router = APIRouter(tags=["biometrics"])
    enrollers = require_roles(Role.HR_CLERK, Role.ADMIN)
    identifiers = require_roles(Role.MERCHANT_CASHIER, Role.PAYROLL_OFFICER, Role.ADMIN)
    admins = require_roles(Role.ADMIN)
    case_readers = require_roles(Role.ADMIN, Role.AUDITOR)

    def service(request: Request, session: Session, principal: Any) -> MatcherService:
        return MatcherService(session, follower_for(request, session), actor=principal.actor,
                              clock=request.app.state.clock)

    @router.post("/persons", status_code=201)
    def create_person(body: PersonIn, request: Request, session: db_session,
                      principal: Annotated[Any, enrollers]) -> PersonOut:
        svc = service(request, session, principal)
        return PersonOut.of(svc.create_person(body.display_name, body.external_ref))

    @router.get("/persons/{person_id}")
    def get_person(person_id: str, request: Request, session: db_session,
                   principal: Annotated[Any, enrollers]) -> PersonOut:
        return PersonOut.of(service(request, session, principal).get_person(person_id))

    @router.delete("/persons/{person_id}", status_code=204)
    def delete_person(person_id: str, request: Request, session: db_session,
                      principal: Annotated[Any, admins]) -> Response:
        service(request, session, principal).delete_person(person_id)
        return Response(status_code=204)

    @router.post("/persons/{person_id}/enrolment", status_code=201,
                 responses={409: {"description": "duplicate: a case was opened"}})
    async def enrol(person_id: str, request: Request, session: db_session,
                    principal: Annotated[Any, enrollers],
                    right: Annotated[list[UploadFile] | None, File()] = None,
                    left: Annotated[list[UploadFile] | None, File()] = None) -> Any:
        samples = {}
        for hand, files in (("right", right), ("left", left)):
            if files:
                samples[hand] = [await _decode(f, f"{hand}[{i}]") for i, f in enumerate(files)]
        result = service(request, session, principal).enrol(person_id, samples)
        body = EnrolmentOut.of(result)
        if result.outcome is EnrolmentOutcome.DUPLICATE:
            # Returned, not raised: the duplicate case must be committed.
            return JSONResponse(body.model_dump(), status_code=409)
        return body

    @router.delete("/persons/{person_id}/enrolment", status_code=204)
    def withdraw_enrolment(person_id: str, request: Request, session: db_session,
                           principal: Annotated[Any, enrollers]) -> Response:
        """Remove the person's templates so they can be enrolled again (re-enrolment)."""
        service(request, session, principal).withdraw_enrolment(person_id)
        return Response(status_code=204)

    @router.post("/identify")
    async def identify(request: Request, session: db_session,
                       principal: Annotated[Any, identifiers],
                       image: Annotated[UploadFile, File()]) -> DecisionOut:
        probe = await _decode(image, "image")
        return DecisionOut.of(service(request, session, principal).identify(probe))

    @router.get("/duplicate-cases")
    def open_cases(request: Request, session: db_session,
                   principal: Annotated[Any, case_readers]) -> list[CaseOut]:
        return [CaseOut.of(c) for c in service(request, session, principal).open_cases()]

    @router.post("/duplicate-cases/{case_id}/resolution")
    def resolve_case(case_id: int, body: ResolutionIn, request: Request, session: db_session,
                     principal: Annotated[Any, admins]) -> CaseOut:
        svc = service(request, session, principal)
        return CaseOut.of(svc.resolve_case(case_id, CaseStatus(body.status), body.note,
                                           principal.roles))

    return router
