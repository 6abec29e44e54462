"""What every page shares: the Jinja environment, the page context, friendly error rendering.

Pages live under :data:`PREFIX`. State-changing forms are sent by htmx, which adds the session's
CSRF token as the ``X-CSRF-Token`` header (set once on ``<body hx-headers=...>``): the same check
the API applies to every cookie-authenticated request, so pages add no CSRF mechanism of their
own. Without JavaScript the forms do not submit; htmx is served from this package, no CDN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from enrollment_ui.config import PagesConfig
from enrollment_ui.i18n import LANGUAGE_COOKIE, LANGUAGES, N_, Language, pick_language
from palmvein.core.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
    ValidationFailed,
)
from palmvein.core.money import Money
from palmvein.core.security.roles import Role
from palmvein.core.security.tokens import csrf_token

PREFIX = "/ui"
LOGIN_PATH = f"{PREFIX}/login"
TEMPLATES_DIR = Path(__file__).parent / "templates"

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class StaffPrincipal(Protocol):
    """The signed-in caller as the composition root's role guard gives it."""

    @property
    def user_id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def roles(self) -> frozenset[Role]: ...
    @property
    def session_token_id(self) -> str | None: ...
    @property
    def actor(self) -> str: ...


class BrowserSessions(Protocol):
    """Sign-in for browsers, provided by the composition root (it owns the cookies)."""

    def sign_in(self, request: Request, response: Response, session: Session,
                username: str, password: str) -> frozenset[Role]:
        """Check the password (with throttling), set the session and CSRF cookies on
        ``response``, and the language cookie to the account's language when it has one
        (:func:`enrollment_ui.i18n.remember_language`), and return the roles of the account;
        raises AuthenticationFailed or TooManyAttempts."""

    def sign_out(self, response: Response) -> None:
        """Clear the cookies."""


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    roles: frozenset[Role]
    #: "merchant" or "pay_point": shown only to users assigned one in :class:`PagesConfig`.
    assignment: str | None = None

    def shown_to(self, username: str, roles: frozenset[Role], config: PagesConfig) -> bool:
        if not roles & self.roles:
            return False
        if self.assignment == "merchant":
            return username in config.cashier_merchants
        if self.assignment == "pay_point":
            return username in config.cashier_pay_points
        return True


_PAYROLL_READERS = frozenset({Role.PAYROLL_OFFICER, Role.PAYROLL_APPROVER, Role.AUDITOR})

NAVIGATION: tuple[NavItem, ...] = (
    NavItem(f"{PREFIX}/persons", N_("People and enrolment"),
            frozenset({Role.HR_CLERK, Role.ADMIN})),
    NavItem(f"{PREFIX}/counter", N_("Merchant counter"), frozenset({Role.MERCHANT_CASHIER}),
            "merchant"),
    NavItem(f"{PREFIX}/payroll", N_("Payroll runs"), _PAYROLL_READERS),
    NavItem(f"{PREFIX}/reports", N_("Payroll reports"), _PAYROLL_READERS),
    NavItem(f"{PREFIX}/paypoint", N_("Pay point"),
            frozenset({Role.MERCHANT_CASHIER, Role.PAYROLL_APPROVER, Role.ADMIN}), "pay_point"),
)


def pages_config(request: Request) -> PagesConfig:
    config: PagesConfig = getattr(request.app.state, "pages_config", None) or PagesConfig()
    return config


def home_path(roles: frozenset[Role], username: str = "",
              config: PagesConfig | None = None) -> str:
    """The first page the caller's roles (and assignments) open."""
    for item in NAVIGATION:
        if item.shown_to(username.lower(), roles, config or PagesConfig()):
            return item.path
    return f"{PREFIX}/welcome"


def language_of(request: Request) -> Language:
    code = pick_language(request.cookies.get(LANGUAGE_COOKIE),
                         request.headers.get("accept-language"))
    return Language(code)


def _csrf_for(request: Request, principal: StaffPrincipal | None) -> str | None:
    if principal is None or principal.session_token_id is None:
        return None
    secret: str = request.app.state.settings.secret_key.get_secret_value()
    return csrf_token(secret, principal.session_token_id)


def _operation_money(operation: Any) -> Money:
    return Money(int(operation.amount), str(operation.currency))


def render(request: Request, template: str, principal: StaffPrincipal | None = None, *,
           status: int = 200, headers: Mapping[str, str] | None = None,
           **values: Any) -> HTMLResponse:
    """Render ``template`` in the caller's language with the shared page context."""
    language = language_of(request)
    config = pages_config(request)
    nav = [item for item in NAVIGATION
           if principal and item.shown_to(principal.username, principal.roles, config)]
    body = _ENV.get_template(template).render(
        request=request,
        principal=principal,
        csrf=_csrf_for(request, principal),
        lang=language,
        languages=LANGUAGES,
        nav=nav,
        _=language.gettext,
        money=language.money,
        when=language.datetime,
        when_day=language.day,
        when_time=language.time,
        op_money=_operation_money,
        minor=Money,
        major=Money.of,
        number=language.number,
        prefix=PREFIX,
        here=request.url.path,
        **values,
    )
    return HTMLResponse(body, status_code=status, headers=dict(headers or {}))


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def go_to(request: Request, path: str) -> Response:
    """Send the browser to ``path``: HX-Redirect for htmx requests, 303 otherwise."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": path})
    return RedirectResponse(path, status_code=303)


# -- friendly problems ---------------------------------------------------------------------------

# What a person should read for each kind of refusal; the service's own sentence follows it.
_TITLES: tuple[tuple[type[DomainError], str], ...] = (
    (ValidationFailed, N_("Please check what you entered")),
    (AuthenticationFailed, N_("Please sign in")),
    (PermissionDenied, N_("You are not allowed to do this")),
    (NotFound, N_("Not found")),
    (Conflict, N_("This cannot be done now")),
    (TooManyAttempts, N_("Too many attempts; wait a moment")),
    (DomainError, N_("The request was refused")),
)


def problem_title(error: DomainError) -> str:
    for cls, title in _TITLES:
        if isinstance(error, cls):
            return title
    return _TITLES[-1][1]  # pragma: no cover - DomainError matches everything


StatusOf = Callable[[DomainError], int]


def problem_fragment(request: Request, error: DomainError, status_of: StatusOf,
                     principal: StaffPrincipal | None = None) -> HTMLResponse:
    """The error as a message box (swapped into the page's message area by htmx)."""
    return render(request, "_problem.html", principal, status=status_of(error),
                  title=problem_title(error), error=error)


def error_page(request: Request, error: DomainError, status_of: StatusOf) -> Response:
    """How a page answers an error raised before or inside it (installed by the root).

    Not signed in: a full page load goes to the login page (coming back afterwards), an htmx
    request is told to go there. Anything else: a friendly page or message box with the status
    of the API's error table.
    """
    if isinstance(error, AuthenticationFailed):
        target = f"{LOGIN_PATH}?next={quote(request.url.path)}"
        if request.method == "GET" and not is_htmx(request):
            return RedirectResponse(target, status_code=303)
        return render(request, "_problem.html", status=401,
                      headers={"HX-Redirect": target, "HX-Retarget": "#messages"},
                      title=problem_title(error), error=error)
    if is_htmx(request):
        # Whatever the form's target, the message goes to the page's message area.
        response = problem_fragment(request, error, status_of)
        response.headers.update({"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"})
        return response
    return render(request, "error.html", status=status_of(error), title=problem_title(error),
                  error=error)


def install_error_pages(app: FastAPI, status_of: StatusOf) -> None:
    """Answer errors on page paths with pages; every other path keeps the API's problem+json.

    ``status_of`` is the composition root's error table, so pages and API agree on statuses.
    """
    api_handler = app.exception_handlers[DomainError]

    async def handler(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith(PREFIX + "/") and isinstance(exc, DomainError):
            return error_page(request, exc, status_of)
        response: Response = await _maybe_await(api_handler(request, exc))
        return response

    app.add_exception_handler(DomainError, handler)


async def _maybe_await(value: Any) -> Any:
    if hasattr(value, "__await__"):
        return await value
    return value
