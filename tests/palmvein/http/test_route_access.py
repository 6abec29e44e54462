"""Generated from the route table: every API route declares its access, and enforces it.

A new route that forgets ``require_roles(...)`` or ``public()`` fails
``test_every_route_declares_who_may_call_it``; a protected route that lets in a caller without a
token, or with a role it does not list, fails the parametrised checks below.

Web pages (under ``/ui/``) go through the same guards but answer people, not programs: a page
opened without a valid session redirects to the login page (303), a form sent without one gets
a 401 page telling htmx where to sign in, and a wrong role gets a 403 page (HTML).
"""

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from enrollment_ui.web import LOGIN_PATH, PREFIX
from palmvein.app import create_app
from palmvein.core.security.roles import Role
from palmvein.core.settings import Settings
from palmvein.http.auth import RouteAccess, api_routes, public, require_roles, route_access

# Built once from a throwaway app only to enumerate routes; the tests use the fixture app.
_ROUTES = list(api_routes(create_app(Settings(_env_file=None)).routes))
_PROTECTED = [
    (method, route.path)
    for route in _ROUTES
    if (access := route_access(route)) is not None
    and not access.public
    and not access.device_kinds
    for method in sorted(route.methods)
]
# Routes only a registered device may call, by a signed request (devices.routes.require_device).
_DEVICE_SIGNED = [
    (method, route.path)
    for route in _ROUTES
    if (access := route_access(route)) is not None and access.device_kinds
    for method in sorted(route.methods)
]


def _access(app: FastAPI, method: str, path: str) -> RouteAccess:
    for route in api_routes(app.routes):
        if route.path == path and method in route.methods:
            access = route_access(route)
            assert access is not None
            return access
    raise AssertionError(f"{method} {path} not found")


def _is_page(path: str) -> bool:
    return path.startswith(PREFIX + "/")


def _assert_refused_unauthenticated(response: Any, method: str, path: str) -> None:
    if not _is_page(path):
        assert response.status_code == 401, response.text
        return
    if method == "GET":
        assert response.status_code == 303, response.text
        assert response.headers["location"].startswith(f"{LOGIN_PATH}?next=")
    else:
        assert response.status_code == 401, response.text
        assert response.headers["hx-redirect"].startswith(f"{LOGIN_PATH}?next=")
        assert response.headers["content-type"].startswith("text/html")


def _concrete(path: str) -> str:
    # Any value will do for path parameters: authorisation runs before the handler looks it up.
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_declares_who_may_call_it() -> None:
    undeclared = [route.path for route in _ROUTES if route_access(route) is None]
    assert undeclared == [], f"routes without require_roles(...) or public(): {undeclared}"


def test_the_walk_finds_the_known_routes() -> None:
    # Guards against api_routes silently missing routes after a FastAPI upgrade.
    paths = {route.path for route in _ROUTES}
    assert {"/healthz", "/readyz", "/auth/token", "/auth/me", "/staff-users"} <= paths
    assert {f"{PREFIX}/persons", f"{PREFIX}/counter", LOGIN_PATH} <= paths
    assert len(_PROTECTED) >= 5


@pytest.mark.parametrize(("method", "path"), _PROTECTED)
def test_no_token_is_401(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, _concrete(path), follow_redirects=False)
    _assert_refused_unauthenticated(response, method, path)
    if not _is_page(path):
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), _PROTECTED)
def test_garbage_token_is_401(client: TestClient, method: str, path: str) -> None:
    response = client.request(
        method,
        _concrete(path),
        headers={"Authorization": "Bearer not.a.token"},
        follow_redirects=False,
    )
    _assert_refused_unauthenticated(response, method, path)


@pytest.mark.parametrize(("method", "path"), _PROTECTED)
def test_every_role_not_listed_is_403(
    app: FastAPI,
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
    method: str,
    path: str,
) -> None:
    allowed = _access(app, method, path).roles
    # A staff user with no role at all is refused everywhere; so is each role the route omits.
    callers = {"no-role": make_staff("no.role")}
    for role in sorted(set(Role) - allowed):
        callers[role.value] = make_staff(f"only.{role.value}".replace("_", "-"), role)
    for name, user_id in callers.items():
        response = client.request(
            method, _concrete(path), headers=bearer(user_id), follow_redirects=False
        )
        assert response.status_code == 403, f"{name} got {response.status_code} on {path}"
        expected = "text/html" if _is_page(path) else "application/problem+json"
        assert response.headers["content-type"].startswith(expected)


@pytest.mark.parametrize(("method", "path"), _PROTECTED)
def test_an_allowed_role_gets_past_the_guard(
    app: FastAPI,
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
    method: str,
    path: str,
) -> None:
    role = min(_access(app, method, path).roles)
    user_id = make_staff("allowed.user", role)
    response = client.request(
        method, _concrete(path), headers=bearer(user_id), follow_redirects=False
    )
    assert response.status_code not in (401, 403), response.text


def test_a_route_declared_both_public_and_protected_is_refused() -> None:
    router = APIRouter()

    @router.get("/confused", dependencies=[public(), require_roles(Role.ADMIN)])
    def confused() -> None:
        return None

    [route] = api_routes(router.routes)
    with pytest.raises(ValueError, match="both public and role-protected"):
        route_access(route)


def test_including_a_router_with_a_prefix_is_refused_rather_than_misread() -> None:
    router = APIRouter()

    @router.get("/x", dependencies=[public()])
    def x() -> None:
        return None

    app = FastAPI()
    app.include_router(router, prefix="/api")
    if any(isinstance(route, APIRoute) for route in app.routes):
        pytest.skip("this FastAPI copies included routes with their prefix; nothing to refuse")
    with pytest.raises(ValueError, match="without prefix"):
        list(api_routes(app.routes))


def test_the_device_signed_routes_are_known() -> None:
    assert ("POST", "/payments/counter/purchases") in _DEVICE_SIGNED
    assert ("POST", "/devices/heartbeat") in _DEVICE_SIGNED


@pytest.mark.parametrize(("method", "path"), _DEVICE_SIGNED)
def test_an_unsigned_request_to_a_device_route_is_401(
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
    method: str,
    path: str,
) -> None:
    # Neither nothing nor a staff token (even an admin's) stands in for a device signature.
    admin = bearer(make_staff("signed.route.admin", *Role))
    for headers in ({}, admin):
        response = client.request(method, _concrete(path), headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "PALMVEIN-HMAC-SHA256"


def test_a_route_both_device_signed_and_role_protected_is_refused() -> None:
    from devices.routes import require_device

    router = APIRouter()

    @router.post("/mixed", dependencies=[require_device("scanner"), require_roles(Role.ADMIN)])
    def mixed() -> None:
        return None

    [route] = api_routes(router.routes)
    with pytest.raises(ValueError, match="both device-signed"):
        route_access(route)
