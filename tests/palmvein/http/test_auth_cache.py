"""A staff user's standing (active, roles) is reused for a few seconds per process, never longer.

Changes made through the ORM in this process take effect on the next request; changes made
elsewhere (another API worker, the CLI, raw SQL) at the latest when the cached entry expires.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, delete, text, update

from palmvein.core.security.roles import Role
from palmvein.core.security.users import StaffUser, StaffUserRole, get_user
from palmvein.http.auth import PRINCIPAL_CACHE_SECONDS, PrincipalCache, StaffStanding


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _cache(app: FastAPI) -> tuple[PrincipalCache, Ticks]:
    ticks = Ticks()
    app.state.principal_cache = cache = PrincipalCache(clock=ticks)
    return cache, ticks


def _me(client: TestClient, headers: dict[str, str]) -> int:
    return client.get("/auth/me", headers=headers).status_code


@dataclass
class SignedIn:
    """A payroll approver, Omar, whose standing the app has just cached."""

    cache: PrincipalCache
    ticks: Ticks
    user_id: int
    headers: dict[str, str]


@pytest.fixture
def omar(
    app: FastAPI,
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
) -> SignedIn:
    cache, ticks = _cache(app)
    user_id = make_staff("omar", Role.PAYROLL_APPROVER)
    headers = bearer(user_id)
    assert _me(client, headers) == 200
    assert len(cache) == 1
    return SignedIn(cache, ticks, user_id, headers)


def test_a_user_disabled_through_the_orm_is_refused_on_the_next_request(
    client: TestClient, omar: SignedIn, session_factory
) -> None:
    with session_factory.begin() as session:
        get_user(session, omar.user_id).is_active = False
    assert _me(client, omar.headers) == 401


def test_a_removed_role_is_gone_on_the_next_request(
    app: FastAPI,
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
    session_factory,
) -> None:
    _cache(app)
    auditor = make_staff("hassan", Role.AUDITOR, Role.HR_CLERK)
    assert client.get("/audit/entries", headers=bearer(auditor)).status_code == 200
    with session_factory.begin() as session:
        # A bulk DELETE, not row by row through the unit of work: noticed all the same.
        session.execute(
            delete(StaffUserRole).where(
                StaffUserRole.user_id == auditor, StaffUserRole.role == Role.AUDITOR.value
            )
        )
    assert client.get("/audit/entries", headers=bearer(auditor)).status_code == 403


def test_a_change_made_by_another_process_holds_at_most_the_cache_lifetime(
    client: TestClient, omar: SignedIn, db_engine: Engine
) -> None:
    # Plain SQL on a connection of its own: what another worker or the CLI would do.
    with db_engine.begin() as connection:
        connection.execute(
            text("UPDATE staff_users SET is_active = :off WHERE id = :id"),
            {"off": False, "id": omar.user_id},
        )
    omar.ticks.now += PRINCIPAL_CACHE_SECONDS - 0.5
    assert _me(client, omar.headers) == 200  # this process has not seen the change yet
    omar.ticks.now += 0.5
    assert _me(client, omar.headers) == 401


def test_a_bulk_update_through_a_session_empties_the_cache(
    client: TestClient, omar: SignedIn, session_factory
) -> None:
    with session_factory.begin() as session:
        session.execute(
            update(StaffUser).where(StaffUser.id == omar.user_id).values(is_active=False)
        )
    assert len(omar.cache) == 0
    assert _me(client, omar.headers) == 401


def test_a_change_rolled_back_keeps_the_cache(
    client: TestClient, omar: SignedIn, session_factory
) -> None:
    with session_factory() as session:
        get_user(session, omar.user_id).is_active = False
        session.flush()
        session.rollback()
    assert len(omar.cache) == 1
    assert _me(client, omar.headers) == 200


def test_a_lookup_that_raced_with_a_change_is_not_kept() -> None:
    cache = PrincipalCache(clock=Ticks())
    began = cache.generation()  # the lookup starts, reads the user ...
    cache.invalidate([7])  # ... while a change to that user commits
    cache.put(7, StaffStanding("omar", frozenset({Role.AUDITOR})), began)
    assert cache.get(7) is None


def test_an_entry_expires_counted_from_before_its_lookup() -> None:
    ticks = Ticks()
    cache = PrincipalCache(ttl=5.0, clock=ticks)
    began = cache.generation()
    ticks.now += 2.0  # a slow query
    cache.put(7, StaffStanding("omar", frozenset()), began)
    ticks.now += 2.9
    assert cache.get(7) is not None
    ticks.now += 0.1
    assert cache.get(7) is None


def test_ttl_zero_caches_nothing() -> None:
    cache = PrincipalCache(ttl=0, clock=Ticks())
    cache.put(7, StaffStanding("omar", frozenset()), cache.generation())
    assert cache.get(7) is None and len(cache) == 0


# -- verified tokens are reused, their expiry is not --------------------------------------------


def test_a_token_seen_before_still_expires(
    app: FastAPI,
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
    clock: Any,
    settings: Any,
) -> None:
    headers = bearer(make_staff("nadia", Role.AUDITOR))
    assert _me(client, headers) == 200  # verified once, now reused
    clock.advance(minutes=settings.access_token_minutes)
    response = client.get("/auth/me", headers=headers)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_tampered_token_is_refused_after_the_genuine_one_was_seen(
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
) -> None:
    headers = bearer(make_staff("karim", Role.AUDITOR))
    assert _me(client, headers) == 200
    token = headers["Authorization"].removeprefix("Bearer ")
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    assert _me(client, {"Authorization": f"Bearer {forged}"}) == 401


def test_a_token_verified_under_one_secret_is_not_reused_under_another(
    app: FastAPI,
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
    settings: Any,
) -> None:
    headers = bearer(make_staff("leila", Role.AUDITOR))
    assert _me(client, headers) == 200
    app.state.settings = settings.model_copy(
        update={"secret_key": SecretStr("another-secret-key-that-is-long-enough-0123456789")}
    )
    assert _me(client, headers) == 401
