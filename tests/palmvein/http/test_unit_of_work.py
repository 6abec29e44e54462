"""The request is the unit of work: committed before the response, rolled back on error."""

from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.errors import Conflict
from palmvein.core.security.users import StaffUser
from palmvein.http.auth import DbSession, public

router = APIRouter(prefix="/uow-test")


def _user(username: str) -> StaffUser:
    return StaffUser(
        username=username,
        full_name=username,
        password_hash="x",
        is_active=True,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


@router.post("/ok", dependencies=[public()])
def add_one(session: DbSession) -> dict[str, str]:
    session.add(_user("committed"))
    return {"status": "added"}


@router.post("/domain-error", dependencies=[public()])
def add_then_refuse(session: DbSession) -> None:
    session.add(_user("rolled-back"))
    session.flush()
    raise Conflict("refused after writing")


@router.post("/commit-fails", dependencies=[public()])
def add_duplicates(session: DbSession) -> dict[str, str]:
    # Nothing is flushed here: the unique violation surfaces only at commit time.
    session.add(_user("twice"))
    session.add(_user("twice"))
    return {"status": "claims success"}


def _count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(StaffUser)) or 0


def test_changes_are_committed_when_the_endpoint_returns(
    app: FastAPI, client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    app.include_router(router)
    assert client.post("/uow-test/ok").status_code == 200
    assert _count(session_factory) == 1


def test_changes_are_rolled_back_when_the_endpoint_raises(
    app: FastAPI, client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    app.include_router(router)
    assert client.post("/uow-test/domain-error").status_code == 409
    assert _count(session_factory) == 0


def test_a_failing_commit_is_reported_not_hidden_behind_a_200(
    app: FastAPI, client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    app.include_router(router)
    response = client.post("/uow-test/commit-fails")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert _count(session_factory) == 0
