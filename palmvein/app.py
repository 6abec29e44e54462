"""FastAPI application factory: the composition root of the web API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from fastapi import FastAPI
from sqlalchemy import Engine

import palmvein
from devices import routes as devices_routes
from matcher import routes as matcher_routes
from palmvein.core.db import create_db_engine, create_session_factory, utcnow
from palmvein.core.settings import Settings
from palmvein.http.auth import DbSession, PrincipalCache, require_roles
from palmvein.http.metrics import HttpMetrics
from palmvein.http.middleware import RequestContextMiddleware
from palmvein.http.pages import mount_pages
from palmvein.http.routes import audit, auth, health, staff
from palmvein.problem import install_problem_handlers
from payments import routes as payments_routes
from payroll import routes as payroll_routes

# Routers in the order they appear in the OpenAPI document; later packages append theirs.
ROUTERS = (health.router, auth.router, staff.router, audit.router)
# Domain routers are built from the request-session and role-guard dependencies, so the domain
# packages stay free of the composition root.
DOMAIN_ROUTERS = (
    matcher_routes.create_router,
    # Counter routes are signed by terminals: payments receives the device guard, not devices.
    partial(payments_routes.create_router, require_device=devices_routes.require_device),
    devices_routes.create_router,
    partial(payroll_routes.create_router, require_device=devices_routes.require_device),
)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """Build the API. ``engine`` and ``clock`` may be injected (tests share a migrated database
    and move time); otherwise the engine comes from ``settings.database_url``."""
    settings = settings or Settings()
    engine = engine or create_db_engine(settings.database_url)
    app = FastAPI(
        title="palmvein",
        version=palmvein.__version__,
        description="Palm-vein biometric payroll and payments.",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = create_session_factory(engine)
    app.state.clock = clock
    # Verified staff users' standing, reused for a few seconds (see palmvein.http.auth).
    app.state.principal_cache = PrincipalCache()
    app.state.metrics = HttpMetrics.create()
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    for factory in DOMAIN_ROUTERS:
        app.include_router(factory(DbSession, require_roles))
    # Web pages (enrollment_ui) under /ui, on the same sessions, roles and error table.
    mount_pages(app)
    # Device-signed requests: the body digest is taken before FastAPI consumes form bodies.
    app.add_middleware(devices_routes.SignedBodyDigest)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    return app


def app_from_environment() -> FastAPI:
    """Entry point for ``uvicorn --factory palmvein.app:app_from_environment``."""
    from palmvein.log import configure_logging

    settings = Settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    return create_app(settings)
