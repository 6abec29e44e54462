"""Sign-in, sign-out, language choice, the home redirect and the static files.

The language is the signed-in user's own preference: choosing one while signed in stores it on
the account (and in the browser's cookie, for the sign-in page), and signing in puts the
account's language into the cookie (the root's browser sign-in does it, the one the API's
``POST /auth/session`` uses, so both sign-ins agree), so the next person on a shared pay-point or counter PC gets
their own language, and a user's choice follows them to another PC. A user without a stored
language keeps the browser's (cookie, else Accept-Language).
"""

# No ``from __future__ import annotations``: FastAPI must see the dependency types.

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from enrollment_ui.i18n import LANGUAGES, remember_language
from enrollment_ui.web import (
    LOGIN_PATH,
    PREFIX,
    BrowserSessions,
    go_to,
    home_path,
    is_htmx,
    pages_config,
    render,
)
from palmvein.core.errors import NotFound
from palmvein.core.security.users import set_language

STATIC_DIR = Path(__file__).parent / "static"
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain",
                 ".svg": "image/svg+xml"}


def _local(path: str | None, default: str) -> str:
    """``path`` if it is a page of this site (no open redirect to another host), else default."""
    if not path:
        return default
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or not path.startswith(PREFIX + "/"):
        return default
    return path


def add_routes(router: APIRouter, db_session: Any, public: Any, any_staff: Any,
               sessions: BrowserSessions) -> None:
    @router.get("/", dependencies=[public])
    def root() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=303)

    @router.get(f"{PREFIX}/")
    def home(request: Request, principal: Annotated[Any, any_staff]) -> Response:
        path = home_path(principal.roles, principal.username, pages_config(request))
        return RedirectResponse(path, status_code=303)

    @router.get(f"{PREFIX}/welcome")
    def welcome(request: Request, principal: Annotated[Any, any_staff]) -> Response:
        return render(request, "welcome.html", principal)

    @router.get(LOGIN_PATH, dependencies=[public])
    def login_page(request: Request, next: str | None = None) -> Response:
        return render(request, "login.html", next=_local(next, ""))

    @router.post(LOGIN_PATH, dependencies=[public])
    def login(request: Request, session: db_session,
              username: Annotated[str, Form(max_length=150)] = "",
              password: Annotated[str, Form(max_length=1024)] = "",
              next: Annotated[str, Form(max_length=500)] = "") -> Response:
        response = Response(status_code=204)
        # Sets the session, CSRF and (the account's, if stored) language cookies.
        roles = sessions.sign_in(request, response, session, username, password)
        target = _local(next, home_path(roles, username, pages_config(request)))
        if is_htmx(request):
            response.headers["HX-Redirect"] = target
        else:
            response.status_code = 303
            response.headers["Location"] = target
        return response

    @router.post(f"{PREFIX}/logout")
    def logout(request: Request, principal: Annotated[Any, any_staff]) -> Response:
        response = go_to(request, LOGIN_PATH)
        sessions.sign_out(response)
        return response

    @router.get(f"{PREFIX}/language/{{code}}", dependencies=[public])
    def choose_language(code: str, next: str | None = None) -> Response:
        """Before signing in (or without JavaScript): remember the language in this browser's
        cookie (a year) and go back."""
        if code not in LANGUAGES:
            raise NotFound(f"no language {code!r}; choose one of {', '.join(LANGUAGES)}")
        response = RedirectResponse(_local(next, f"{PREFIX}/"), status_code=303)
        remember_language(response, code)
        return response

    @router.post(f"{PREFIX}/language/{{code}}")
    def choose_my_language(request: Request, session: db_session, code: str,
                           principal: Annotated[Any, any_staff],
                           next: str | None = None) -> Response:
        """Signed in (the switcher posts through htmx, with the CSRF header): store the
        language on the account and in the cookie, and go back."""
        set_language(session, principal.user_id, code)  # an unknown code: ValidationFailed
        response = go_to(request, _local(next, f"{PREFIX}/"))
        remember_language(response, code)
        return response

    @router.get(f"{PREFIX}/static/{{name}}", dependencies=[public])
    def static(name: str) -> Response:
        path = STATIC_DIR / name
        media_type = _STATIC_TYPES.get(path.suffix)
        if "/" in name or name.startswith(".") or media_type is None or not path.is_file():
            raise NotFound(f"no static file {name!r}")
        return FileResponse(path, media_type=media_type,
                            headers={"Cache-Control": "public, max-age=3600"})

