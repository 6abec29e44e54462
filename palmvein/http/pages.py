"""Mounting the web pages (:mod:`enrollment_ui`): their browser sign-in and error pages, wired to
the API's session cookie, CSRF check and error table so pages and API behave alike."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from sqlalchemy.orm import Session

from enrollment_ui.config import PagesConfig
from enrollment_ui.routes import create_router
from enrollment_ui.web import install_error_pages
from palmvein.core.errors import DomainError
from palmvein.core.security.roles import Role
from palmvein.http.auth import DbSession, public, require_roles
from palmvein.http.routes.auth import end_browser_session, start_browser_session
from palmvein.problem import spec_for


class CookieSessions:
    """:class:`enrollment_ui.web.BrowserSessions` through ``POST /auth/session``'s own code."""

    def sign_in(
        self, request: Request, response: Response, session: Session, username: str, password: str
    ) -> frozenset[Role]:
        user, _, _ = start_browser_session(request, response, session, username, password)
        return user.roles

    def sign_out(self, response: Response) -> None:
        end_browser_session(response)


def _status(error: DomainError) -> int:
    return spec_for(error).status


def mount_pages(app: FastAPI, config: PagesConfig | None = None) -> None:
    """Add the pages to ``app`` (after the problem handlers are installed)."""
    app.state.pages_config = config or PagesConfig.from_environment()
    app.include_router(create_router(DbSession, require_roles, public(), CookieSessions()))
    install_error_pages(app, _status)
