"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine

from palmvein.core.db import ping
from palmvein.http.auth import public
from palmvein.problem import problem_response

router = APIRouter(tags=["health"])


@router.get("/healthz", dependencies=[public()])
def healthz() -> dict[str, str]:
    """The process is up. Says nothing about the database (see /readyz)."""
    return {"status": "ok"}


@router.get("/readyz", dependencies=[public()], response_model=None)
def readyz(request: Request) -> Any:
    """Ready to serve: the database answers a query."""
    engine: Engine = request.app.state.engine
    try:
        ping(engine)
    except Exception as exc:  # noqa: BLE001 - any driver error means "not ready"
        return problem_response(
            request,
            status=503,
            title="Service unavailable",
            detail=f"database unreachable ({type(exc).__name__})",
            code="not-ready",
        )
    return {"status": "ready", "database": engine.dialect.name}


@router.get("/metrics", dependencies=[public()], include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
