"""A stand-in for the face analysis API: one handler answering its endpoint on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from streamwatch.analysis.contract import ENDPOINT_PATH

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    """A small aiohttp app answering the endpoint with `handler`; yields the endpoint's URL."""
    app = web.Application()
    app.router.add_post(ENDPOINT_PATH, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}{ENDPOINT_PATH}"
    finally:
        await runner.cleanup()
