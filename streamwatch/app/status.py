"""The status server: /healthz (app/health.py) and /metrics (app/metrics.py).

/healthz answers 200 with "ok" or "degraded" (the box still does its job a lesser way) and 503
with "failing", the details as JSON; /metrics in Prometheus' exposition format.

Bound to loopback by default. Its camera errors name hosts and files, so another address needs
`status.token` (config/model.py), which every request must then carry: as
`Authorization: Bearer <token>` (what Prometheus sends) or `?token=<token>` (overlay/auth.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from streamwatch.app.health import health
from streamwatch.app.metrics import AppCollector
from streamwatch.config.serving import StatusSettings
from streamwatch.overlay.auth import TokenGate
from streamwatch.serving import start_site

if TYPE_CHECKING:
    from streamwatch.app.runner import App

STATUS_COOKIE_NAME = "streamwatch_status_session"


def build_status_app(app: App, settings: StatusSettings | None = None) -> web.Application:
    """The status server; with `settings.token`, every request needs it (overlay/auth.py)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AppCollector(app))

    async def healthz(_request: web.Request) -> web.Response:
        report = health(app)
        return web.json_response(report, status=200 if report["status"] == "ok" else 503)

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), content_type="text/plain", charset="utf-8"
        )

    middlewares = []
    if settings is not None and settings.token is not None:
        gate = TokenGate(
            settings.token.get_secret_value(),
            guards="status server",
            key="status.token",
            cookie_name=STATUS_COOKIE_NAME,
        )
        middlewares.append(gate.middleware)
    status_app = web.Application(middlewares=middlewares)
    status_app.router.add_get("/healthz", healthz)
    status_app.router.add_get("/metrics", metrics)
    return status_app


@asynccontextmanager
async def serve_status(app: App, settings: StatusSettings) -> AsyncIterator[str]:
    """Serve /healthz and /metrics; yields the base URL (the bound port when port is 0).
    CannotServe when the address cannot be bound."""
    runner = web.AppRunner(build_status_app(app, settings), access_log=None)
    await runner.setup()
    try:
        port = await start_site(
            runner, settings.host, settings.port, server="status", keys="status.host, status.port"
        )
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        yield f"http://{host}:{port}/"
    finally:
        await runner.cleanup()


__all__ = ["build_status_app", "serve_status"]
