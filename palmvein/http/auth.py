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

The token is verified on every request. Whether its user still exists, is active and holds which
roles is read with one query and then kept in a per-process :class:`PrincipalCache` for
:data:`PRINCIPAL_CACHE_SECONDS`. A change to a staff user or its roles committed through the ORM
in this process (any session) empties the cache entry at commit; a change made by another process
(another API worker, the CLI) or by raw SQL is seen at the latest when the entry expires, so a
disabled user or a removed role keeps working for at most that long on the other processes.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from devices.routes import DeviceGuard
from palmvein.core.errors import AuthenticationFailed, PermissionDenied
from palmvein.core.security.roles import ALL_ROLES, Role
from palmvein.core.security.tokens import TokenClaims, TokenKind, csrf_matches, read_token
from palmvein.core.security.users import StaffUser, StaffUserRole
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


def _finish(session: Session, succeeded: bool) -> None:
    try:
        if succeeded:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


async def _session_scope(request: Request) -> AsyncIterator[Session]:
    # The request boundary: commit if the endpoint returned, roll back if it raised. Scoped to the
    # endpoint call so the commit happens before the response is sent. Opening a session does no
    # I/O (it connects on first use), so only the end, which talks to the database, goes to a
    # worker thread: one thread hop per request instead of one for each end.
    # Shielded: a cancelled request (client gone) still rolls back and returns its connection.
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
    except BaseException:
        if not session.in_transaction():
            session.close()  # nothing begun, nothing to undo: no I/O, no thread hop
            raise
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_finish, session, False)
        raise
    if not session.in_transaction():
        # The endpoint used no database or committed its own work in its worker thread (the
        # payments money-moving routes do: one thread hop per request instead of two).
        session.close()
        return
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_finish, session, True)


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


@dataclass(frozen=True, slots=True)
class StaffStanding:
    """What authentication needs to know about an active staff user."""

    username: str
    roles: frozenset[Role]


@dataclass(frozen=True, slots=True)
class _Cached:
    standing: StaffStanding
    expires: float


# Seconds a verified staff user's standing is reused in one process without asking the database.
PRINCIPAL_CACHE_SECONDS = 5.0


class PrincipalCache:
    """Active staff users' usernames and roles by user id, for ``ttl`` seconds (per process).

    An entry is dropped when a change to that user or its roles commits through the ORM in this
    process (see :func:`invalidate_staff`); otherwise it expires after ``ttl``. Lookups that raced
    with such a change are not stored: :meth:`generation` is read before the query and
    :meth:`put` refuses the result if an invalidation happened since. Unknown and disabled users
    are never cached (their requests are refused after a query each time). ``ttl`` 0 disables
    caching.
    """

    def __init__(
        self, ttl: float = PRINCIPAL_CACHE_SECONDS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[int, _Cached] = {}
        self._generation = 0
        self._lock = threading.Lock()
        _CACHES.add(self)

    def get(self, user_id: int) -> StaffStanding | None:
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            self._entries.pop(user_id, None)
            return None
        return entry.standing

    def generation(self) -> tuple[int, float]:
        """Take before looking a user up: (invalidation count, the time the lookup began)."""
        with self._lock:
            return self._generation, self._clock()

    def put(self, user_id: int, standing: StaffStanding, began: tuple[int, float]) -> None:
        """Keep ``standing`` read by a lookup that started at ``began`` (from :meth:`generation`)."""
        if self.ttl <= 0:
            return
        generation, started = began
        with self._lock:
            if generation != self._generation:
                return  # a change committed while we read: what we read may predate it
            # Counted from before the query: never trusted longer than ttl after what it saw.
            self._entries[user_id] = _Cached(standing, started + self.ttl)

    def invalidate(self, user_ids: Iterable[int] | None = None) -> None:
        """Forget those users (all users if None)."""
        with self._lock:
            self._generation += 1
            if user_ids is None:
                self._entries.clear()
            else:
                for user_id in user_ids:
                    self._entries.pop(user_id, None)

    def __len__(self) -> int:
        return len(self._entries)


_CACHES: weakref.WeakSet[PrincipalCache] = weakref.WeakSet()
_STAFF_CHANGES = "palmvein.http.auth.staff_changes"  # Session.info key: ids changed (None: all)


def invalidate_staff(user_ids: Iterable[int] | None = None) -> None:
    """Forget cached standing of those staff users (all if None) in every cache of this process."""
    ids = None if user_ids is None else frozenset(user_ids)
    for cache in list(_CACHES):
        cache.invalidate(ids)


def _note_staff_changes(session: Session, ids: set[int] | None) -> None:
    noted = session.info.get(_STAFF_CHANGES, set())
    session.info[_STAFF_CHANGES] = None if noted is None or ids is None else noted | ids


@event.listens_for(Session, "after_flush")
def _staff_flushed(session: Session, flush_context: UOWTransaction) -> None:
    ids: set[int] = set()
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, StaffUser) and instance.id is not None:
            ids.add(instance.id)
        elif isinstance(instance, StaffUserRole) and instance.user_id is not None:
            ids.add(instance.user_id)
    if ids:
        _note_staff_changes(session, ids)


@event.listens_for(Session, "do_orm_execute")
def _staff_bulk_change(state: ORMExecuteState) -> None:
    # UPDATE/DELETE statements on the staff tables (not row by row through the unit of work).
    if (
        (state.is_update or state.is_delete)
        and state.bind_mapper is not None
        and (state.bind_mapper.class_ in (StaffUser, StaffUserRole))
    ):
        _note_staff_changes(state.session, None)


@event.listens_for(Session, "after_commit")
def _staff_committed(session: Session) -> None:
    if _STAFF_CHANGES in session.info:
        invalidate_staff(session.info.pop(_STAFF_CHANGES))


@event.listens_for(Session, "after_soft_rollback")
def _staff_rolled_back(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_STAFF_CHANGES, None)


_users, _roles = StaffUser.__table__, StaffUserRole.__table__
# One round trip for the user and its roles (LEFT JOIN: a user without roles still answers).
_STANDING = (
    select(_users.c.username, _users.c.is_active, _roles.c.role)
    .select_from(_users.outerjoin(_roles, _roles.c.user_id == _users.c.id))
    .where(_users.c.id == bindparam("user_id"))
)


def load_standing(session: Session, user_id: int) -> StaffStanding | None:
    """The user's username and roles, or None if there is no such user or it is disabled."""
    rows = session.connection().execute(_STANDING, {"user_id": user_id}).all()
    if not rows or not rows[0].is_active:
        return None
    roles = frozenset(Role(row.role) for row in rows if row.role is not None)
    return StaffStanding(username=rows[0].username, roles=roles)


@dataclass(frozen=True, slots=True)
class _Credentials:
    user_id: int
    via: str
    session_token_id: str | None


# Verified tokens by (secret, kind, token): the signature check is deterministic over the exact
# string, so a token verified once needs only its expiry checked again (against the request's
# clock, each time). Bounded: cleared when full.
_VERIFIED_TOKENS_MAX = 4096
_verified_tokens: dict[tuple[str, TokenKind, str], TokenClaims] = {}


def _read_token_cached(secret: str, token: str, *, kind: TokenKind, now: datetime) -> TokenClaims:
    """:func:`read_token`, with the signature, issuer and kind checks of a token already seen
    reused; the expiry is checked every time, as ``read_token`` checks it."""
    cache_key = (secret, kind, token)
    claims = _verified_tokens.get(cache_key)
    if claims is None:
        claims = read_token(secret, token, kind=kind, now=now)
        if len(_verified_tokens) >= _VERIFIED_TOKENS_MAX:
            _verified_tokens.clear()
        _verified_tokens[cache_key] = claims
        return claims
    if int(claims.expires_at.timestamp()) <= int(now.timestamp()):
        raise AuthenticationFailed("the token has expired; log in again")
    return claims


def _verify_credentials(request: Request) -> _Credentials:
    """Check the bearer token or session cookie (and CSRF); no database involved."""
    settings = app_settings(request)
    now = app_clock(request)()
    secret = settings.secret_key.get_secret_value()
    token = _bearer_token(request)
    if token is not None:
        claims = _read_token_cached(secret, token, kind=TokenKind.ACCESS, now=now)
        return _Credentials(claims.user_id, "bearer", None)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise AuthenticationFailed("sign in first: send a bearer token or a session cookie")
    claims = _read_token_cached(secret, cookie, kind=TokenKind.SESSION, now=now)
    if request.method not in _SAFE_METHODS and not csrf_matches(
        secret, claims.token_id, request.headers.get(CSRF_HEADER)
    ):
        raise PermissionDenied(
            f"missing or wrong {CSRF_HEADER} header for a cookie-authenticated request"
        )
    return _Credentials(claims.user_id, "session", claims.token_id)


def _principal(credentials: _Credentials, standing: StaffStanding | None) -> Principal:
    if standing is None:
        raise AuthenticationFailed("the account behind this token no longer exists or is disabled")
    return Principal(
        user_id=credentials.user_id,
        username=standing.username,
        roles=standing.roles,
        via=credentials.via,
        session_token_id=credentials.session_token_id,
    )


def principal_cache(request: Request) -> PrincipalCache:
    cache: PrincipalCache | None = getattr(request.app.state, "principal_cache", None)
    if cache is None:
        cache = request.app.state.principal_cache = PrincipalCache()
    return cache


def _lookup(cache: PrincipalCache, session: Session, user_id: int) -> StaffStanding | None:
    began = cache.generation()
    standing = load_standing(session, user_id)
    if standing is not None:
        cache.put(user_id, standing, began)
    return standing


async def authenticate_request(request: Request, session: Session) -> Principal:
    """The caller, checked against the process's recent answer or the database.

    On the event loop: the token check is CPU only, and a cached standing needs no query; only a
    lookup goes to a worker thread.
    """
    credentials = _verify_credentials(request)
    cache = principal_cache(request)
    standing = cache.get(credentials.user_id)
    if standing is None:
        standing = await run_in_threadpool(_lookup, cache, session, credentials.user_id)
    return _principal(credentials, standing)


# Only documents the scheme in OpenAPI (the "Authorize" button of /docs signs in through
# POST /auth/token); authenticate_request reads and checks the header itself.
_OPENAPI_BEARER = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


class RoleGuard:
    """The dependency behind :func:`require_roles`; its ``roles`` are read by :func:`route_access`."""

    def __init__(self, roles: frozenset[Role]) -> None:
        if not roles:
            raise ValueError("a protected route must allow at least one role")
        self.roles = roles

    async def __call__(
        self,
        request: Request,
        session: DbSession,
        _documented: Annotated[str | None, Depends(_OPENAPI_BEARER)] = None,
    ) -> Principal:
        principal = await authenticate_request(request, session)
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
