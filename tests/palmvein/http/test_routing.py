"""palmvein.http.routing.PrefixRouter: the same answers as an APIRouter, without trying its
routes on paths outside its prefix."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from palmvein.http.routing import PrefixRouter


def _app(gated: APIRouter) -> FastAPI:
    other = APIRouter(prefix="/b")

    @gated.get("/x")
    def x() -> dict[str, str]:
        return {"at": "a/x"}

    @gated.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    @other.get("/y")
    def y() -> dict[str, str]:
        return {"at": "b/y"}

    app = FastAPI()
    app.include_router(gated)
    app.include_router(other)
    return app


ASKED = [
    ("GET", "/a/x"),
    ("GET", "/a/items/7"),
    ("GET", "/a/items/seven"),
    ("POST", "/a/x"),
    ("GET", "/a/x/"),
    ("GET", "/a/missing"),
    ("GET", "/a"),
    ("GET", "/ab/x"),
    ("GET", "/b/y"),
    ("GET", "/nowhere"),
]


@pytest.mark.parametrize("root_path", ["", "/api"])
def test_a_prefix_router_answers_as_an_api_router(root_path: str) -> None:
    plain = TestClient(_app(APIRouter(prefix="/a")), root_path=root_path)
    gated = TestClient(_app(PrefixRouter(prefix="/a")), root_path=root_path)
    for method, path in ASKED:
        expected = plain.request(method, path, follow_redirects=False)
        got = gated.request(method, path, follow_redirects=False)
        assert (got.status_code, got.content, got.headers.get("location")) == (
            expected.status_code,
            expected.content,
            expected.headers.get("location"),
        ), (method, path)


def test_paths_outside_the_prefix_are_not_tried_against_its_routes() -> None:
    gated = PrefixRouter(prefix="/a")
    app = _app(gated)
    tried: list[str] = []
    for route in gated.routes:
        original = route.matches

        def spy(scope: Any, original: Any = original) -> Any:
            tried.append(scope["path"])
            return original(scope)

        route.matches = spy  # type: ignore[method-assign]
    client = TestClient(app)
    assert client.get("/b/y").json() == {"at": "b/y"}
    assert tried == []
    assert client.get("/a/x").json() == {"at": "a/x"}
    assert tried  # inside the prefix the routes are tried as usual


def test_a_prefix_router_needs_a_prefix() -> None:
    for bad in ("", "/", "a", "/a/"):
        with pytest.raises(ValueError, match="prefix"):
            PrefixRouter(prefix=bad)
