"""Routers that turn away paths outside their prefix before trying each of their routes.

FastAPI tries an application's routers in order, and an included router answers "no match" only
after matching the path against every one of its routes (a few microseconds each). A request to
``/payments/transfers`` was tried against every route of every router included before payments.
Every route of a :class:`PrefixRouter` starts with its prefix, so a path that does not start
with it cannot match any of them: the router says so at once. Paths under the prefix (and any
request with a ``root_path``, or other than HTTP) are matched as before.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.routing import Match
from starlette.types import Scope


class PrefixRouter(APIRouter):
    """An :class:`~fastapi.APIRouter` with a prefix that refuses other paths without a scan."""

    def __init__(self, *, prefix: str, **kwargs: Any) -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError("a PrefixRouter needs a prefix like '/audit'")
        super().__init__(prefix=prefix, **kwargs)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] == "http"
            and not scope.get("root_path")
            and not str(scope["path"]).startswith(self.prefix)
        ):
            return Match.NONE, {}
        return super().matches(scope)
