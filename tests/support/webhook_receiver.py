"""A real aiohttp webhook receiver on 127.0.0.1 for tests: records what it gets, can fail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class WebhookReceiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    fail_statuses: list[int] = field(default_factory=list)  # answered first, in order
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.fail_statuses:
            return web.Response(status=self.fail_statuses.pop(0))
        async with self._arrived:
            self.received.append(Received(dict(request.headers), body))
            self._arrived.notify_all()
        return web.Response(status=204)

    async def wait_for(self, count: int, timeout_s: float = 30.0) -> list[Received]:
        """The first `count` deliveries, waiting for them to arrive."""
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return self.received[:count]

    def events_of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r.event for r in self.received if r.event["type"] == f"streamwatch.{kind}"]


@asynccontextmanager
async def webhook_receiver(path: str = "/hook") -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = web.Application()
    app.router.add_post(path, receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}{path}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
