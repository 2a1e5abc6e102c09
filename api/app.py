"""The Litestar application: thin handlers over `api.*` SQL functions."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, cast

import psycopg
from litestar import Litestar, Request, get
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.response import Response

from api.auth import TokenVerifier, identity_config, make_auth_middleware
from api.body import strict_body
from api.config import Settings
from api.db import as_caller, call, caller_transaction, make_pool, provide_db
from api.docs_ui import assets_router, swagger_plugin
from api.errors import (
    database_error_handler,
    http_error_handler,
    internal_error_handler,
    json_error_bodies,
    too_deep_handler,
)
from api.events import EventHub
from api.openapi_contract import document_contract
from api.outage import OutcomeUnknown, operational_error_handler, outcome_unknown_handler
from api.responses import Health, Unavailable, shape
from api.routes import ROUTE_HANDLERS

log = logging.getLogger("autodoc.api")

# No request body the API takes comes near this (the largest, a session with 20 file references and
# its metadata, is a few KiB); larger bodies are refused with 413 body_too_large before parsing.
MAX_BODY_BYTES = 256 * 1024


@get("/health", tags=["operations"], summary="Database, migrations, pg_cron, outbox and worker status",
     responses={503: ResponseSpec(data_container=Unavailable, description="The database cannot be reached")})
async def health(request: Request[Any, Any, Any]) -> Response[Health]:
    """200 `ok` or `degraded` (with `reasons`) whenever the database answers; 503 only when it does
    not. What a load balancer should probe: see docs/operations.md."""
    settings: Settings = request.app.state.settings
    try:
        async with caller_transaction(request.app.state.pool, lambda c: as_caller(c, {"role": "anon"}),
                                      wait=min(settings.db_pool_timeout, 3.0)) as conn:
            status: dict[str, Any] = await call(conn, "health")
    except (psycopg.Error, TimeoutError) as e:
        log.warning("health: database unreachable: %s", e)
        return cast("Response[Health]", Response(
            Unavailable(status="unavailable", database=False, reasons=["database_unreachable"]),
            status_code=503, headers={"Retry-After": "1"}))
    reasons = degraded_reasons(status.get("outbox"), settings.health_max_pending_age_seconds)
    return Response(shape(Health, {"status": "degraded" if reasons else "ok", "reasons": reasons, **status}),
                    status_code=200)


def degraded_reasons(outbox: dict[str, Any] | None, max_pending_age: float) -> list[str]:
    """Why side effects are not flowing normally (the API itself still works):
    no_live_worker — no worker heartbeat within its time to live (one heartbeat period);
    outbox_backlog — an effect has been due for longer than AUTODOC_HEALTH_MAX_PENDING_AGE_SECONDS;
    dead_letters — effects gave up and wait for an admin (GET /api/admin/outbox/dead)."""
    if not outbox:
        return []
    reasons = []
    if not outbox.get("workers_alive"):
        reasons.append("no_live_worker")
    if float(outbox.get("oldest_due_age_seconds") or 0) > max_pending_age:
        reasons.append("outbox_backlog")
    if outbox.get("dead"):
        reasons.append("dead_letters")
    return reasons


def cors_config(settings: Settings) -> CORSConfig:
    """Browsers on these origins may call the API (AUTODOC_CORS_ORIGINS). Identity is the bearer
    token in the Authorization header, never a cookie, so no credentials mode is offered
    (Access-Control-Allow-Credentials is never sent) and "*" is safe to allow."""
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Accept", "Last-Event-ID"],
        allow_credentials=False,
        # what a script may read from a response: the 429 wait, the .ics file name
        expose_headers=["Retry-After", "Content-Disposition"],  # Retry-After: also 503 database_unavailable
        max_age=600,
    )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    verifier = TokenVerifier(identity_config(settings))
    pool = make_pool(settings.database_url, timeout=settings.db_pool_timeout)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        app.state.pool = pool
        app.state.settings = settings
        app.state.verifier = verifier
        # the process's one live-event relay (started by the first GET /api/events)
        app.state.events = EventHub(settings.database_url, poll_seconds=settings.events_poll_seconds)
        await pool.open(wait=False)
        try:
            yield
        finally:
            await app.state.events.stop()
            await pool.close()

    app = Litestar(
        route_handlers=[health, *ROUTE_HANDLERS, assets_router()],
        dependencies={"db": Provide(provide_db)},
        exception_handlers={psycopg.Error: database_error_handler, HTTPException: http_error_handler,
                            RecursionError: too_deep_handler, Exception: internal_error_handler,
                            # a lost database connection: 503 (api/outage.py); other operational errors: as mapped
                            psycopg.OperationalError: operational_error_handler,
                            OutcomeUnknown: outcome_unknown_handler},
        before_request=strict_body,
        after_request=json_error_bodies,
        request_max_body_size=MAX_BODY_BYTES,
        lifespan=[lifespan],
        middleware=[make_auth_middleware(verifier)],
        cors_config=cors_config(settings) if settings.cors_origins else None,
        openapi_config=OpenAPIConfig(
            title="AutoDoctor booking API", version="0.1.0", path="/schema",
            render_plugins=[swagger_plugin()],
        ),
        debug=False,
    )
    document_contract(app.openapi_schema)
    return app
