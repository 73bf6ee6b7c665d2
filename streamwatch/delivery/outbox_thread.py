"""The running daemon's outbox: one `Outbox` on a thread of its own, awaited from the event loop.

Every outbox call blocks: an fsync per event, and up to `BUSY_TIMEOUT_S` behind another
process's write (`streamwatch outbox purge`, a `sqlite3` shell). So the SQLite connection is
opened, used and closed on one thread (streamwatch.serial_thread), and every call from async
code goes there, one at a time, in the order given: the camera that submits, the sinks'
workers, the start and the stop. The pending counts the outbox keeps (`Outbox.keep_counts`)
are read from the loop directly: they are in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Concatenate, ParamSpec, Self, TypeVar

from streamwatch.delivery.outbox import Outbox
from streamwatch.serial_thread import SerialThread

P = ParamSpec("P")
T = TypeVar("T")

# Shorter than the command's 5 s: `Dispatcher.submit` tries a few times, and meanwhile the
# camera that made the event waits.
BUSY_TIMEOUT_S = 1.0


class OutboxThread:
    """The outbox at `path`, open between `__aenter__` and `__aexit__`."""

    def __init__(self, path: Path, *, max_events: int = 100_000) -> None:
        self.path = path
        self._outbox = Outbox(path, max_events=max_events, busy_timeout_s=BUSY_TIMEOUT_S)
        self._thread = SerialThread("outbox")
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self._thread)
            # Queued even when the open is cancelled half-way: it runs after the open.
            stack.push_async_callback(
                self._thread.run_to_end, self._outbox.__exit__, None, None, None
            )
            await self._thread.run(self._outbox.__enter__)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    async def call(
        self, method: Callable[Concatenate[Outbox, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`method(outbox, *args, **kwargs)` on the outbox's thread, after every call before it:
        `await outbox.call(Outbox.append, event)`."""
        return await self._thread.run(method, self._outbox, *args, **kwargs)


__all__ = ["BUSY_TIMEOUT_S", "OutboxThread"]
