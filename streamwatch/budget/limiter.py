"""The global call budget: a rate limit shared by every camera.

The cloud API's provider rejects calls above ~2/s; asyncio-throttle keeps the whole process
under `max_calls` per `period_s`. Waiting for a slot suspends only the camera that asked.
"""

from __future__ import annotations

from types import TracebackType

from asyncio_throttle.throttler import Throttler

from streamwatch.config.model import BudgetSettings


class CallBudget:
    def __init__(self, settings: BudgetSettings) -> None:
        self._throttler = Throttler(rate_limit=settings.max_calls, period=settings.period_s)
        self.calls_made = 0

    async def __aenter__(self) -> None:
        """Wait for a slot; the caller makes one call inside the `async with` block."""
        await self._throttler.acquire()  # type: ignore[no-untyped-call]
        self.calls_made += 1

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None
