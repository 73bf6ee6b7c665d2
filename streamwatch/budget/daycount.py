"""This box's calls of the day, in memory and in the ledger file (written off the loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date

from streamwatch.budget.ledger import CallLedger


class DayCounter:
    def __init__(self, today: Callable[[], date], ledger: CallLedger | None) -> None:
        self._today = today
        self._ledger = ledger
        self._writes: set[asyncio.Future[None]] = set()
        self._day = today()
        self._calls = ledger.calls_on(self._day) if ledger else 0

    @property
    def day(self) -> date:
        self._roll()
        return self._day

    @property
    def calls(self) -> int:
        self._roll()
        return self._calls

    def add(self) -> int:
        """Count one call today; returns the day's count."""
        self._roll()
        self._calls += 1
        if self._ledger is not None:
            # fsync can take tens of milliseconds on an SD card: off the loop. The ledger keeps
            # the highest count of the day, so writes finishing out of order lose nothing.
            write = asyncio.get_running_loop().run_in_executor(
                None, self._ledger.record, self._day, self._calls
            )
            self._writes.add(write)
            write.add_done_callback(self._writes.discard)
        return self._calls

    async def flush(self) -> None:
        """Until the ledger writes started so far are on disk."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    def _roll(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self._calls = today, 0
