"""A real aiohttp webhook receiver on 127.0.0.1 for tests: records what it gets, can fail."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at_s: float = field(default_factory=time.monotonic)

    @property
    def event(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class WebhookReceiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)  # answered 2xx
    attempts: list[Received] = field(default_factory=list)  # every request, failed or not
    fail_statuses: list[int] = field(default_factory=list)  # answered first, in order
    fail_headers: dict[str, str] = field(default_factory=dict)  # sent with those failures
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        async with self._arrived:
            delivery = Received(dict(request.headers), body)
            self.attempts.append(delivery)
            if self.fail_statuses:
                response = web.Response(status=self.fail_statuses.pop(0), headers=self.fail_headers)
            else:
                self.received.append(delivery)
                response = web.Response(status=204)
            self._arrived.notify_all()
        return response

    async def wait_for(self, count: int, timeout_s: float = 30.0) -> list[Received]:
        """The first `count` deliveries, waiting for them to arrive."""
        await self.wait_until(lambda: len(self.received) >= count, timeout_s)
        return self.received[:count]

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
        """Until `condition()` holds, checked after every request."""
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(condition)

    def events_of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r.event for r in self.received if r.event["type"] == f"streamwatch.{kind}"]


@asynccontextmanager
async def webhook_receiver(path: str = "/hook", port: int = 0) -> AsyncIterator[WebhookReceiver]:
    """A receiver on `port` (0: any free one); `url` is where to POST."""
    receiver = WebhookReceiver()
    app = web.Application()
    app.router.add_post(path, receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}{path}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
