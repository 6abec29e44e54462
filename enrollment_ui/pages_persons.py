"""HR clerk pages: find or create a person, capture samples, enrol, re-enrol, delete.

Every change goes through :class:`matcher.service.MatcherService`, as the API's does; the pages
only add the capture step (scanner or upload), its quality feedback and the ROI preview.
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency types.

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from capture.session import PresentationAttackSuspected
from enrollment_ui import samples
from enrollment_ui.config import PagesConfig
from enrollment_ui.web import PREFIX, go_to, pages_config, render
from matcher.models import DuplicateCase, Hand, Person
from matcher.routes import follower_for
from matcher.service import EnrolmentOutcome, MatcherService
from palmvein.core import audit
from palmvein.core.db import unit_of_work
from palmvein.core.errors import FieldProblem, ValidationFailed

_LIST_LIMIT = 50


def _config(request: Request) -> PagesConfig:
    return pages_config(request)


def _pool(request: Request) -> samples.ScannerPool:
    pool: samples.ScannerPool | None = getattr(request.app.state, "scanner_pool", None)
    if pool is None:
        pool = request.app.state.scanner_pool = samples.ScannerPool()
    return pool


def _secret(request: Request) -> str:
    secret: str = request.app.state.settings.secret_key.get_secret_value()
    return secret


def _service(request: Request, session: Session, principal: Any) -> MatcherService:
    return MatcherService(session, follower_for(request, session), actor=principal.actor,
                          clock=request.app.state.clock)


def _find(session: Session, text: str) -> list[Person]:
    query = select(Person).where(Person.deleted_at.is_(None))
    if text:
        pattern = f"%{text.strip()}%"
        query = query.where(or_(Person.display_name.ilike(pattern),
                                Person.external_ref.ilike(pattern)))
    return list(session.scalars(query.order_by(Person.created_at.desc()).limit(_LIST_LIMIT)))


def _hand(value: str) -> str:
    if value not in {h.value for h in Hand}:
        raise ValidationFailed("choose the right or the left hand",
                               [FieldProblem("hand", "right or left")])
    return value


def add_routes(router: APIRouter, db_session: Any, enrollers: Any, admins: Any) -> None:
    @router.get(f"{PREFIX}/persons")
    def persons(request: Request, session: db_session, principal: Annotated[Any, enrollers],
                q: str = "") -> Response:
        found = _find(session, q[:100])
        template = "_person_rows.html" if request.headers.get("hx-target") == "person-rows" \
            else "persons.html"
        return render(request, template, principal, persons=found, q=q)

    @router.post(f"{PREFIX}/persons")
    def create_person(request: Request, session: db_session,
                      principal: Annotated[Any, enrollers],
                      display_name: Annotated[str, Form(max_length=200)] = "",
                      external_ref: Annotated[str, Form(max_length=100)] = "") -> Response:
        person = _service(request, session, principal).create_person(
            display_name, external_ref.strip() or None)
        return go_to(request, f"{PREFIX}/persons/{person.id}")

    @router.get(f"{PREFIX}/persons/{{person_id}}")
    def person_page(person_id: str, request: Request, session: db_session,
                    principal: Annotated[Any, enrollers]) -> Response:
        svc = _service(request, session, principal)
        person = svc.get_person(person_id)
        cases = list(session.scalars(
            select(DuplicateCase).where(DuplicateCase.person_id == person_id)
            .order_by(DuplicateCase.id.desc())))
        return render(request, "person.html", principal, person=person, cases=cases,
                      others=_case_people(session, cases), scanners=_config(request).scanners,
                      policy=svc.policy, hands=[h.value for h in (Hand.RIGHT, Hand.LEFT)])

    @router.post(f"{PREFIX}/persons/{{person_id}}/samples")
    async def capture_sample(
        person_id: str, request: Request, session: db_session,
        principal: Annotated[Any, enrollers],
        hand: Annotated[str, Form()] = "right",
        scanner: Annotated[str, Form(max_length=500)] = "",
        image: Annotated[UploadFile | None, File()] = None,
    ) -> Response:
        """Capture from the scanner (or take the uploaded image) and show its quality."""
        _service(request, session, principal).get_person(person_id)
        hand = _hand(hand)
        upload = await image.read() if image is not None else b""
        if scanner:
            try:
                frame = _pool(request).capture(scanner)
            except PresentationAttackSuspected as suspected:
                # Recorded in its own transaction: the request's is rolled back by the refusal.
                with unit_of_work(request.app.state.session_factory) as log:
                    audit.record(log, actor=principal.actor, action="capture.presentation_attack",
                                 entity_type="person", entity_id=person_id,
                                 data={"scanner": scanner, **suspected.audit_data()})  # fmt: skip
                raise
        elif upload:
            frame = samples.decode_upload(upload)
        else:
            raise ValidationFailed("choose a scanner or an image file",
                                   [FieldProblem("scanner", "empty")])
        sample = samples.assess(frame, secret=_secret(request), person_id=person_id, hand=hand)
        # The card goes to the end of that hand's list, whatever form sent it.
        return render(request, "_sample.html", principal, sample=sample, hand=hand,
                      reason_texts=samples.REASON_TEXTS,
                      headers={"HX-Retarget": f"#samples-{hand}", "HX-Reswap": "beforeend"})

    @router.post(f"{PREFIX}/persons/{{person_id}}/enrolment")
    async def enrol(person_id: str, request: Request, session: db_session,
                    principal: Annotated[Any, enrollers]) -> Response:
        form = await request.form()
        secret = _secret(request)
        chosen: dict[str, list[Any]] = {}
        for hand in (Hand.RIGHT.value, Hand.LEFT.value):
            tokens = [str(t) for t in form.getlist(hand)]
            if tokens:
                chosen[hand] = [samples.unseal(secret, person_id, hand, t) for t in tokens]
        svc = _service(request, session, principal)
        result = svc.enrol(person_id, chosen)
        person = svc.get_person(person_id)
        if result.outcome is EnrolmentOutcome.DUPLICATE:
            # Returned, not raised: the duplicate case is committed with the request.
            ids = [h.matched_person_id for h in result.duplicates]
            others = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
            return render(request, "_duplicate.html", principal, person=person,
                          hits=result.duplicates, others=others, status=409)
        return render(request, "_enrolled.html", principal, person=person, result=result)

    @router.post(f"{PREFIX}/persons/{{person_id}}/withdrawal")
    def withdraw(person_id: str, request: Request, session: db_session,
                 principal: Annotated[Any, enrollers]) -> Response:
        """Re-enrol: remove the templates, keep the person, show the capture form again."""
        _service(request, session, principal).withdraw_enrolment(person_id)
        return go_to(request, f"{PREFIX}/persons/{person_id}")

    @router.post(f"{PREFIX}/persons/{{person_id}}/deletion")
    def delete(person_id: str, request: Request, session: db_session,
               principal: Annotated[Any, admins]) -> Response:
        _service(request, session, principal).delete_person(person_id)
        return go_to(request, f"{PREFIX}/persons")


def _case_people(session: Session, cases: list[DuplicateCase]) -> dict[str, Person]:
    ids = [c.matched_person_id for c in cases]
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
