"""A dispatcher on an outbox file of the test's, retrying and polling fast as tests want."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from streamwatch.delivery import Dispatcher, Outbox, Sink

FAST = {"retry_initial_s": 0.02, "retry_max_s": 0.1, "poll_s": 0.05}


@asynccontextmanager
async def dispatching(
    path: Path, sinks: Sequence[Sink], **timing: float
) -> AsyncIterator[Dispatcher]:
    with Outbox(path) as outbox:
        async with Dispatcher(outbox, sinks, **(FAST | timing)) as dispatcher:
            yield dispatcher
