"""The live view's shutdown signal, and waiting for something unless it comes first.

Streams and feeds run until the client leaves or the server shuts down: on_shutdown sets the
signal, which every open stream also waits on, so shutdown never waits for viewers to go away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Stopping:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def unless_stopping(
        self, awaitable: Awaitable[T], timeout_s: float | None = None
    ) -> T | None:
        """The awaitable's result, or None when the server stops or `timeout_s` passes first."""
        work = asyncio.ensure_future(awaitable)
        stopping = asyncio.ensure_future(self._event.wait())
        try:
            await asyncio.wait(
                (work, stopping), timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            work.cancel()
            stopping.cancel()
        if work.done() and not work.cancelled():
            return work.result()
        return None

    async def stopped_within(self, delay_s: float) -> bool:
        if delay_s <= 0:
            return self._event.is_set()
        try:
            await asyncio.wait_for(self._event.wait(), timeout=delay_s)
        except TimeoutError:
            return False
        return True
