"""How late the event loop runs while a block of a test runs: a heartbeat task that asks to
sleep a short interval again and again, and records how much later than asked it woke up."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class Lateness:
    samples_s: list[float] = field(default_factory=list)

    @property
    def max_s(self) -> float:
        return max(self.samples_s, default=0.0)


@contextlib.asynccontextmanager
async def loop_lateness(interval_s: float = 0.01) -> AsyncIterator[Lateness]:
    lateness = Lateness()
    last_beat_s = time.monotonic()

    async def beat() -> None:
        nonlocal last_beat_s
        while True:
            await asyncio.sleep(interval_s)
            now_s = time.monotonic()
            lateness.samples_s.append(now_s - last_beat_s - interval_s)
            last_beat_s = now_s

    task = asyncio.create_task(beat(), name="heartbeat")
    try:
        yield lateness
    finally:
        # A loop blocked until the very end leaves the beat due then unrecorded: count it.
        lateness.samples_s.append(max(0.0, time.monotonic() - last_beat_s - interval_s))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
