"""Clocks: the time that the time-based rules of capture, budget and pipeline run on.

Live, that is the machine's clock (`SYSTEM_CLOCK`). A recording replayed faster than real time
runs on its own clock instead (`MediaClock`): the time of a frame is its place in the file
(frame number / fps), and "now" is the time of the newest frame the pipeline took. Waiting on
that clock (the budget's per-camera interval and rate, a candidate's `max_age_s`) ends when
the frames reach the time waited for, however fast they decode.

A replay's clock also keeps the order real time has: work started at one moment finishes
before the next frame is taken (`hold`), unless it waits for a later moment. So an analysis
takes no media time in a fast replay: its answer is attached at the time of the frame it was
asked for, where live it arrives one latency later.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol


class Hold(Protocol):
    def release(self) -> None: ...


class Clock(Protocol):
    def monotonic_s(self) -> float:
        """Now, for ages and intervals (seconds; only differences mean anything)."""
        ...

    def wall_s(self) -> float:
        """Now, as a Unix time."""
        ...

    async def sleep_until(self, monotonic_s: float) -> None: ...

    def timeout_at(self, monotonic_s: float) -> AbstractAsyncContextManager[object]:
        """`async with`: TimeoutError when the block is still waiting at `monotonic_s`."""
        ...

    def hold(self) -> Hold:
        """Work that time must not move on from until it is released (or waits on the clock)."""
        ...


class _NoHold:
    def release(self) -> None:
        pass


class SystemClock:
    """The machine's clock: time.monotonic() and time.time(); real time never waits for work."""

    def monotonic_s(self) -> float:
        return time.monotonic()

    def wall_s(self) -> float:
        return time.time()

    async def sleep_until(self, monotonic_s: float) -> None:
        if (wait_s := monotonic_s - time.monotonic()) > 0:
            await asyncio.sleep(wait_s)

    def timeout_at(self, monotonic_s: float) -> AbstractAsyncContextManager[object]:
        return asyncio.timeout(max(0.0, monotonic_s - time.monotonic()))

    def hold(self) -> Hold:
        return _NoHold()


SYSTEM_CLOCK = SystemClock()


@dataclass(order=True)
class _Alarm:
    at_s: float
    order: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class _MediaHold:
    def __init__(self, clock: MediaClock) -> None:
        self._clock: MediaClock | None = clock

    def release(self) -> None:
        if self._clock is not None:
            self._clock._release()
            self._clock = None


class MediaClock:
    """The time of a recording replayed as fast as it decodes (one camera).

    `advance_to` (the replay's frame hand-over, as the pipeline takes a frame) moves it; waits
    on it end when it gets there. Holds and sleeps are counted so that the hand-over can tell
    when everything started so far is done or waits for a later time (`settled`).
    """

    def __init__(self, fps: float, *, start_wall_s: float | None = None) -> None:
        if fps <= 0:
            raise ValueError(f"a media clock needs a positive frame rate, got {fps}")
        self.fps = fps
        self.start_wall_s = time.time() if start_wall_s is None else start_wall_s
        self._now_s = 0.0
        self._alarms: list[_Alarm] = []
        self._order = itertools.count()
        self._holds = 0
        self._asleep: set[asyncio.Task[object]] = set()
        # Tasks whose timeout passed: they are about to wake with TimeoutError, not asleep.
        self._expired: set[asyncio.Task[object]] = set()
        self._changed = asyncio.Event()

    def frame_time_s(self, sequence: int) -> float:
        """The media time of the `sequence`-th frame of the file (the first is 1, at 0 s)."""
        return (sequence - 1) / self.fps

    def monotonic_s(self) -> float:
        return self._now_s

    def wall_s(self) -> float:
        return self.start_wall_s + self._now_s

    def advance_to(self, monotonic_s: float) -> None:
        """Make it `monotonic_s` (never backwards); wake what waited for up to then."""
        self._now_s = max(self._now_s, monotonic_s)
        while self._alarms and self._alarms[0].at_s <= self._now_s:
            alarm = heapq.heappop(self._alarms)
            if not alarm.cancelled:
                alarm.action()
        self._changed.set()

    async def sleep_until(self, monotonic_s: float) -> None:
        if monotonic_s <= self._now_s:
            return
        task = _current_task()
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            # Counted awake at once, before the task runs: `settled` must not see it asleep.
            self._asleep.discard(task)
            if not woken.done():
                woken.set_result(None)

        alarm = self._alarm(monotonic_s, wake)
        if task not in self._expired:
            self._asleep.add(task)
        self._changed.set()
        try:
            await woken
        finally:
            alarm.cancelled = True
            self._asleep.discard(task)
            self._changed.set()

    def timeout_at(self, monotonic_s: float) -> AbstractAsyncContextManager[object]:
        return self._timeout_at(monotonic_s)

    @asynccontextmanager
    async def _timeout_at(self, monotonic_s: float) -> AsyncIterator[object]:
        task = _current_task()
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(None) as timeout:

            def expire() -> None:
                self._expired.add(task)
                self._asleep.discard(task)
                timeout.reschedule(loop.time())  # asyncio's own timeout does the rest

            alarm = self._alarm(monotonic_s, expire)
            if monotonic_s <= self._now_s:
                alarm.cancelled = True
                expire()
            try:
                yield timeout
            finally:
                alarm.cancelled = True
                self._expired.discard(task)

    def hold(self) -> Hold:
        self._holds += 1
        return _MediaHold(self)

    async def settled(self) -> None:
        """Until every hold is released or its holder sleeps until a later time."""
        while self._holds > len(self._asleep):
            self._changed.clear()
            await self._changed.wait()

    def _release(self) -> None:
        self._holds -= 1
        self._changed.set()

    def _alarm(self, at_s: float, action: Callable[[], None]) -> _Alarm:
        alarm = _Alarm(at_s, next(self._order), action)
        heapq.heappush(self._alarms, alarm)
        return alarm


def _current_task() -> asyncio.Task[object]:
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("a media clock is waited on from a task")
    return task
