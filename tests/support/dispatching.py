"""A dispatcher on an outbox file of the test's, retrying and polling fast as tests want."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from streamwatch.delivery import Dispatcher, OutboxThread, Sink

FAST = {"retry_initial_s": 0.02, "retry_max_s": 0.1, "poll_s": 0.05, "append_retry_s": 0.01}


@asynccontextmanager
async def dispatching(
    path: Path, sinks: Sequence[Sink], *, max_events: int = 100_000, **timing: float
) -> AsyncIterator[Dispatcher]:
    async with (
        OutboxThread(path, max_events=max_events) as outbox,
        Dispatcher(outbox, sinks, **(FAST | timing)) as dispatcher,
    ):
        yield dispatcher
