"""A thread of one's own for blocking work that must stay in order, awaited from the event loop.

The calls given to a `SerialThread` run one at a time, in the order they were given, always on
the same thread: what is not thread-safe (an SQLite connection, a file being appended to) is
opened, used and closed there and nowhere else, and never blocks the loop. A call whose awaiting
task is cancelled still runs to its end (a thread cannot be interrupted), so a close given after
it runs after it too.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, Self, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class SerialThread:
    """Running between `__aenter__` and `__aexit__`; `__aexit__` waits for the calls given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._executor: ThreadPoolExecutor | None = None

    async def __aenter__(self) -> Self:
        # One worker: the pool never starts a second thread, and its one thread lives until
        # shut down, so every call runs on the same thread.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            # Joined from another thread, so as not to block the loop; shielded, so that a
            # cancelled exit still lets the calls given end, and the thread with them.
            await asyncio.shield(asyncio.to_thread(executor.shutdown))

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`function(*args, **kwargs)` on the thread, after every call given before it."""
        if self._executor is None:
            raise RuntimeError(f"thread {self.name} is not running (use `async with`)")
        call = functools.partial(function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def run_to_end(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """As `run`, but a cancelled caller does not keep the call from starting: for closes."""
        return await asyncio.shield(self.run(function, *args, **kwargs))


__all__ = ["SerialThread"]
