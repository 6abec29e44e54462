"""Authentication and per-route role declarations.

Every API route declares who may call it, with exactly one of:

- ``require_roles(Role.ADMIN, ...)``: a signed-in staff user holding at least one listed role;
- ``require_device(kind, ...)`` (``devices.routes``): a request signed by a registered device of
  one of those kinds (terminals; no staff token is involved);
- ``public()``: anyone (health checks, login itself).

The declaration is a FastAPI dependency that also records itself on the route, so
:func:`route_access` can read it back and a test generated from ``app.routes`` checks every route
(no token -> 401, wrong role -> 403) and fails on a route that declares neither.

Callers authenticate with a bearer token (API clients) or the session cookie set by
``POST /auth/session`` (web pages). Cookie-authenticated requests that change state must echo the
CSRF token in the ``X-CSRF-Token`` header; bearer requests need no CSRF token because browsers
never attach them on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import BaseRoute

from devices.routes import DeviceGuard
from palmvein.core.errors import AuthenticationFailed, PermissionDenied
from palmvein.core.security.roles import ALL_ROLES, Role
from palmvein.core.security.tokens import TokenKind, csrf_matches, read_token
from palmvein.core.security.users import StaffUser
from palmvein.core.settings import Settings

SESSION_COOKIE = "palmvein_session"
CSRF_COOKIE = "palmvein_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def app_clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


def _session_scope(request: Request) -> Iterator[Session]:
    # The request boundary: commit if the endpoint returned, roll back if it raised. Scoped to the
    # endpoint call so the commit happens before the response is sent.
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# ``session: DbSession`` in a route signature gives the request's unit of work.
DbSession = Annotated[Session, Depends(_session_scope, scope="function")]


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    roles: frozenset[Role]
    via: str  # "bearer" or "session"
    session_token_id: str | None = None

    @property
    def actor(self) -> str:
        """How this caller appears in the audit log."""
        return f"staff:{self.username}"


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def authenticate_request(request: Request, session: Session) -> Principal:
    settings = app_settings(request)
    now = app_clock(request)()
    secret = settings.secret_key.get_secret_value()
    token = _bearer_token(request)
    session_token_id: str | None = None
    if token is not None:
        claims = read_token(secret, token, kind=TokenKind.ACCESS, now=now)
        via = "bearer"
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise AuthenticationFailed("sign in first: send a bearer token or a session cookie")
        claims = read_token(secret, cookie, kind=TokenKind.SESSION, now=now)
        via = "session"
        session_token_id = claims.token_id
        if request.method not in _SAFE_METHODS and not csrf_matches(
            secret, claims.token_id, request.headers.get(CSRF_HEADER)
        ):
            raise PermissionDenied(
                f"missing or wrong {CSRF_HEADER} header for a cookie-authenticated request"
            )
    user = session.get(StaffUser, claims.user_id)
    if user is None or not user.is_active:
        raise AuthenticationFailed("the account behind this token no longer exists or is disabled")
    return Principal(
        user_id=user.id,
        username=user.username,
        roles=user.roles,
        via=via,
        session_token_id=session_token_id,
    )


# Only documents the scheme in OpenAPI (the "Authorize" button of /docs signs in through
# POST /auth/token); authenticate_request reads and checks the header itself.
_OPENAPI_BEARER = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


class RoleGuard:
    """The dependency behind :func:`require_roles`; its ``roles`` are read by :func:`route_access`."""

    def __init__(self, roles: frozenset[Role]) -> None:
        if not roles:
            raise ValueError("a protected route must allow at least one role")
        self.roles = roles

    def __call__(
        self,
        request: Request,
        session: DbSession,
        _documented: Annotated[str | None, Depends(_OPENAPI_BEARER)] = None,
    ) -> Principal:
        principal = authenticate_request(request, session)
        if principal.roles.isdisjoint(self.roles):
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise PermissionDenied(f"this action needs one of the roles: {allowed}")
        request.state.principal = principal
        return principal

    def __repr__(self) -> str:
        return f"RoleGuard({sorted(r.value for r in self.roles)})"


def require_roles(*roles: Role) -> Any:
    """Declare the roles allowed on a route; the dependency yields the :class:`Principal`.

    ``principal: Annotated[Principal, require_roles(Role.ADMIN)]`` in the signature, or
    ``dependencies=[require_roles(...)]`` on the decorator when the principal is not needed.
    """
    return Depends(RoleGuard(frozenset(roles)))


def require_any_staff() -> Any:
    """Any signed-in staff user holding at least one role."""
    return Depends(RoleGuard(ALL_ROLES))


class PublicMarker:
    """The dependency behind :func:`public`: does nothing but say the route is open on purpose."""

    def __call__(self) -> None:
        return None

    def __repr__(self) -> str:
        return "public()"


_PUBLIC = PublicMarker()


def public() -> Any:
    """``dependencies=[public()]``: the route is open to anyone, on purpose."""
    return Depends(_PUBLIC)


# The caller, whatever their role (at least one).
AnyStaff = Annotated[Principal, require_any_staff()]


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route of an application, including those of included routers.

    Recent FastAPI versions keep included routers as nested objects rather than copying their
    routes; both layouts are handled. Routers must carry their own prefix and dependencies
    (``APIRouter(prefix=...)``): an ``include_router(prefix=..., dependencies=...)`` would change
    paths and guards in a way this walk cannot see, so it is refused rather than misreported.
    """
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
            continue
        original = getattr(route, "original_router", None)
        if original is None:
            continue
        context = getattr(route, "include_context", None)
        if getattr(context, "prefix", "") or getattr(context, "dependencies", None):
            raise ValueError(
                "include routers without prefix= or dependencies=; set them on the APIRouter"
            )
        yield from api_routes(original.routes)


@dataclass(frozen=True)
class RouteAccess:
    public: bool
    roles: frozenset[Role]
    # Non-empty for a device-signed route: the device kinds it admits (then ``roles`` is empty).
    device_kinds: frozenset[str] = frozenset()


def _guards(dependant: Any) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RoleGuard | PublicMarker | DeviceGuard):
            yield dependency.call
        yield from _guards(dependency)


def route_access(route: APIRoute) -> RouteAccess | None:
    """What the route declared, or None if it declared nothing (a bug the tests catch).

    Raises ValueError if a route declares itself both public and protected, or both
    device-signed and anything else.
    """
    guards = list(_guards(route.dependant))
    markers = [g for g in guards if isinstance(g, PublicMarker)]
    role_guards = [g for g in guards if isinstance(g, RoleGuard)]
    device_guards = [g for g in guards if isinstance(g, DeviceGuard)]
    if markers and role_guards:
        raise ValueError(f"route {route.path} is declared both public and role-protected")
    if device_guards and (markers or role_guards):
        raise ValueError(f"route {route.path} is declared both device-signed and staff/public")
    if device_guards:
        kinds = frozenset.intersection(
            *(frozenset(k.value for k in g.device_kinds) for g in device_guards)
        )
        return RouteAccess(public=False, roles=frozenset(), device_kinds=kinds)
    if markers:
        return RouteAccess(public=True, roles=frozenset())
    if not role_guards:
        return None
    # Several guards (router-level and route-level) must all pass: the allowed set is their meet.
    allowed = frozenset(ALL_ROLES)
    for guard in role_guards:
        allowed &= guard.roles
    return RouteAccess(public=False, roles=allowed)
