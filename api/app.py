"""The polydesk HTTP service (FastAPI): ``create_app`` wires the services, the routes and the error handlers.

Run it with ``polydesk serve`` (uvicorn); the OpenAPI schema is at ``/openapi.json`` and the
interactive docs at ``/docs``. Every route but ``/healthz``, ``/readyz`` and ``/metrics``
needs an API key (``api.auth``), checked before any body is read (``api.guard``); every error is
JSON ``{"code", "message"}`` (``api.errors``).

Example:
    >>> app = create_app(Settings(), keys=[ApiKey(key="pd_demo_connector_key", tenant="tidewell",
    ...                                           role="connector")])  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.auth import ApiKey, demo_keys, parse_keys
from api.console import site as console
from api.deps import Services
from api.guard import RequestGuard, TrailingSlash
from api.routes import analytics as analytics_routes
from api.routes import answer, channels, chat, conversations, customers, desk, knowledge, ops, personas, privacy
from api.routes import desk_replies as desk_reply_routes
from api.routes import knowledge_import as knowledge_import_routes
from api.routes import sources as source_routes
from api.routes import widget as widget_routes
from api.runtime import Runtime
from polydesk.errors import ConfigError
from polydesk.settings import Settings, get_settings

DESCRIPTION = """
One service that answers customers of many markets, in their language, grounded in a brand's
own knowledge. Channel connectors call `/v1/answer` (or its stream, or the OpenAI-compatible
`/v1/chat/completions`); content teams manage `/v1/knowledge`; operators watch `/readyz` and
`/metrics`. Send an API key as `Authorization: Bearer <key>`; its tenant scopes everything.
Errors are JSON `{"code", "message"}` with a stable `code`.
"""


class RequestMetrics:
    """Counts every request by route template and status, with its latency (a plain ASGI middleware: cheap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            services: Services | None = getattr(scope["app"].state, "services", None)
            if services is not None:
                route = getattr(scope.get("route"), "path", "unmatched")
                services.metrics.observe_request(scope["method"], route, status, time.perf_counter() - began)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None,
               keys: Sequence[ApiKey] = (), background: bool = True) -> FastAPI:
    """The app. ``runtime`` (the shared resources and the agent) defaults to one opened on ``settings`` at
    start-up and closed at shutdown; one handed in stays the caller's. ``background`` also runs the ingestion
    job worker and the webhook delivery in this process, and the agent's warm-up; an app that opened its own
    runtime is the process's service, and freezes what start-up built once warm (``Services.start``)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.open(settings, keys=keys, runtime=runtime, background=background)
        app.state.services = services
        services.start(warm_up=background, freeze=runtime is None)
        try:
            yield
        finally:
            services.close()

    # No slash redirects: their Location came from the Host header (TrailingSlash serves both forms instead).
    app = FastAPI(title="polydesk", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  redirect_slashes=False)
    errors.install(app)
    for module in (answer, chat, knowledge, conversations, privacy, personas, ops, channels):
        app.include_router(module.router)
    app.include_router(widget_routes.router)
    app.include_router(customers.router)
    app.include_router(desk.router)
    app.include_router(desk_reply_routes.router)
    app.include_router(analytics_routes.router)
    app.include_router(knowledge_import_routes.router)
    app.include_router(source_routes.router)
    console.install(app)

    # Outermost last: the slash is settled first, then every request is counted, then guarded.
    app.add_middleware(RequestGuard)
    app.add_middleware(RequestMetrics)
    app.add_middleware(TrailingSlash)
    return app


DEMO_TENANT = "tidewell"


def configured_keys(settings: Settings) -> tuple[list[ApiKey], Path | None]:
    """``POLYDESK_API_KEYS``, else the demo keys file under ``data_dir`` (created on first use).

    The path is returned when the keys were created just now, so ``polydesk serve`` prints them once.
    """
    if settings.api_keys is not None:
        return parse_keys(settings.api_keys.get_secret_value(), origin="POLYDESK_API_KEYS"), None
    if settings.environment == "production":
        raise ConfigError("POLYDESK_API_KEYS must be set in production (no demo keys)")
    path = settings.data_dir / "api-keys.json"
    keys, created = demo_keys(path, tenant=DEMO_TENANT)
    return keys, path if created else None


def serve_app() -> FastAPI:
    """The app of ``polydesk serve`` (a factory, so each uvicorn worker process builds its own)."""
    settings = get_settings()
    keys, _ = configured_keys(settings)
    return create_app(settings, keys=keys)
