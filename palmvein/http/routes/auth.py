"""Staff sign-in: bearer tokens for API clients, a cookie session with CSRF for web pages.

A browser sign-in (``POST /auth/session``, and the pages' form, which runs the same code) also
sets the pages' language cookie to the account's language when it has one, so the pages open in
the user's language however the browser signed in. ``POST /auth/token`` sets no cookie at all:
its caller is a program holding a bearer token, not a browser showing the pages.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Form, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from enrollment_ui.i18n import remember_language
from palmvein.core.errors import AuthenticationFailed, TooManyAttempts
from palmvein.core.security.throttle import ThrottlePolicy
from palmvein.core.security.tokens import TokenClaims, TokenKind, csrf_token, issue_token
from palmvein.core.security.users import StaffUser, authenticate
from palmvein.core.settings import Settings
from palmvein.http.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AnyStaff,
    DbSession,
    app_clock,
    app_settings,
    public,
)
from palmvein.http.routing import PrefixRouter

router = PrefixRouter(prefix="/auth", tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class SessionResponse(BaseModel):
    username: str
    roles: list[str]
    csrf_token: str
    expires_at: datetime


class MeResponse(BaseModel):
    user_id: int
    username: str
    roles: list[str]
    authenticated_via: str


def _policy(settings: Settings) -> ThrottlePolicy:
    return ThrottlePolicy(
        max_failures=settings.login_max_failures,
        window=timedelta(seconds=settings.login_window_seconds),
        lockout=timedelta(seconds=settings.login_lockout_seconds),
    )


def _login(request: Request, session: Session, username: str, password: str) -> StaffUser:
    settings = app_settings(request)
    metrics = request.app.state.metrics
    client = request.client.host if request.client else ""
    try:
        outcome = authenticate(
            session,
            username,
            password,
            policy=_policy(settings),
            now=app_clock(request)(),
            client=client,
        )
    except TooManyAttempts:
        metrics.logins.labels("throttled").inc()
        raise
    # This endpoint is its own boundary: the failed attempt must be stored although we refuse.
    session.commit()
    if outcome.user is None:
        metrics.logins.labels("failure").inc()
        raise AuthenticationFailed("wrong username or password")
    metrics.logins.labels("success").inc()
    return outcome.user


@router.post("/token", dependencies=[public()])
def issue_access_token(
    request: Request,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1024)],
    session: DbSession,
) -> TokenResponse:
    """OAuth2 password flow: form fields ``username`` and ``password`` -> a bearer token.

    No cookie is set (no session, CSRF or language cookie): a token is sent by a program in the
    Authorization header, and the pages (the only readers of the language cookie) need the
    browser session of ``POST /auth/session``."""
    user = _login(request, session, username, password)
    settings = app_settings(request)
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token, _ = issue_token(
        settings.secret_key.get_secret_value(),
        user_id=user.id,
        kind=TokenKind.ACCESS,
        now=app_clock(request)(),
        lifetime=lifetime,
    )
    return TokenResponse(access_token=token, expires_in=int(lifetime.total_seconds()))


@router.post("/session", dependencies=[public()])
def open_session(
    request: Request,
    response: Response,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1024)],
    session: DbSession,
) -> SessionResponse:
    """Sign in a browser: sets an HttpOnly session cookie and a readable CSRF cookie."""
    user, csrf, claims = start_browser_session(request, response, session, username, password)
    return SessionResponse(
        username=user.username,
        roles=sorted(r.value for r in user.roles),
        csrf_token=csrf,
        expires_at=claims.expires_at,
    )


def start_browser_session(
    request: Request, response: Response, session: Session, username: str, password: str
) -> tuple[StaffUser, str, TokenClaims]:
    """Check the password and set the session and CSRF cookies (the API and the pages), and the
    pages' language cookie to the account's language when it has one."""
    user = _login(request, session, username, password)
    settings = app_settings(request)
    secret = settings.secret_key.get_secret_value()
    lifetime = timedelta(minutes=settings.session_minutes)
    token, claims = issue_token(
        secret,
        user_id=user.id,
        kind=TokenKind.SESSION,
        now=app_clock(request)(),
        lifetime=lifetime,
    )
    csrf = csrf_token(secret, claims.token_id)
    max_age = int(lifetime.total_seconds())
    secure = settings.secure_cookies
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=secure, samesite="strict"
    )
    # Readable by page scripts (htmx sends it back as the X-CSRF-Token header).
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, httponly=False, secure=secure, samesite="strict"
    )
    if user.language is not None:  # else the browser's own choice stays
        remember_language(response, user.language)
    return user, csrf, claims


def end_browser_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


@router.delete("/session", status_code=204)
def close_session(response: Response, principal: AnyStaff) -> Response:
    """Sign out a browser by clearing its cookies (CSRF header required for cookie callers)."""
    response.status_code = 204
    end_browser_session(response)
    return response


@router.get("/me")
def who_am_i(principal: AnyStaff) -> MeResponse:
    return MeResponse(
        user_id=principal.user_id,
        username=principal.username,
        roles=sorted(r.value for r in principal.roles),
        authenticated_via=principal.via,
    )
