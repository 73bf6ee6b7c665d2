"""The call rate: at most `max_calls` in any `period_s`, with a reserve for high priority.

A sliding window of the times calls were granted: live, asyncio-throttle's `Throttler` keeps
it on the machine's clock; a recording replayed faster than real time keeps the same window
in its media time (`SlidingWindow`). A low-priority call is granted only while more
than `reserve` of the window's calls are left, and only at once, so a box busy with refreshes
still has calls for the next new face. A token bucket would not do: one of `max_calls` tokens
refilling at `max_calls / period_s` lets 2 * max_calls - 1 calls through in some `period_s`,
and the provider counts calls in any second.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol, cast

from asyncio_throttle.throttler import Throttler

from streamwatch.budget.priority import Priority
from streamwatch.clock import Clock, SystemClock


class RateWindow(Protocol):
    async def acquire(self, priority: Priority = Priority.HIGH) -> None:
        """Wait until one more high call fits, and count it; a low call is counted if it
        fits now, or raises TimeoutError: it never waits (priority.py)."""
        ...


def rate_window(max_calls: int, period_s: float, clock: Clock, *, reserve: int = 0) -> RateWindow:
    if isinstance(clock, SystemClock):
        return ThrottledWindow(max_calls, period_s, reserve=reserve)
    return SlidingWindow(max_calls, period_s, clock, reserve=reserve)


class _Throttler(Protocol):
    """asyncio-throttle's Throttler as typed here (its methods carry no annotations)."""

    _task_logs: deque[float]

    async def acquire(self) -> None: ...

    def flush(self) -> None: ...


class ThrottledWindow:
    """asyncio-throttle's window on the machine's clock, with the reserve on top."""

    def __init__(self, max_calls: int, period_s: float, *, reserve: int = 0) -> None:
        if not 0 <= reserve < max_calls:
            raise ValueError(f"reserve must be in [0, {max_calls}), got {reserve}")
        self._throttler = cast(_Throttler, Throttler(rate_limit=max_calls, period=period_s))
        self._low_calls = max_calls - reserve

    async def acquire(self, priority: Priority = Priority.HIGH) -> None:
        match priority:
            case Priority.HIGH:
                await self._throttler.acquire()
            case Priority.LOW:
                # The throttler only waits; a low call must be decided at once, on the same
                # window: its log of grant times (monotonic), flushed of those out of it.
                self._throttler.flush()
                granted = self._throttler._task_logs
                if len(granted) >= self._low_calls:
                    raise TimeoutError
                granted.append(time.monotonic())


class SlidingWindow:
    def __init__(self, max_calls: int, period_s: float, clock: Clock, *, reserve: int = 0) -> None:
        if not 0 <= reserve < max_calls:
            raise ValueError(f"reserve must be in [0, {max_calls}), got {reserve}")
        self.max_calls = max_calls
        self.period_s = period_s
        self.reserve = reserve
        self._clock = clock
        self._granted_s: deque[float] = deque()

    def allowed(self, priority: Priority) -> int:
        """The calls of one window that `priority` may take."""
        match priority:
            case Priority.HIGH:
                return self.max_calls
            case Priority.LOW:
                return self.max_calls - self.reserve

    def grant(self, priority: Priority) -> float | None:
        """Count one call now and return None; or, when it does not fit, the clock's time
        at which to ask again (nothing counted)."""
        now_s = self._clock.monotonic_s()
        granted = self._granted_s
        # Out of the window by the same sum as the retry time below: `now - period` rounds
        # otherwise (3.4 - 3 < 0.4), and a grant neither out nor retried later spun forever.
        while granted and granted[0] + self.period_s <= now_s:
            granted.popleft()
        allowed = self.allowed(priority)
        if len(granted) < allowed:
            granted.append(now_s)
            return None
        # The grant that must leave the window before one more of this priority fits.
        return granted[len(granted) - allowed] + self.period_s

    async def acquire(self, priority: Priority = Priority.HIGH) -> None:
        """Wait until one more high call fits in the window, and count it. A low call is
        counted if it fits now, or raises TimeoutError: it never waits (priority.py)."""
        while (retry_at_s := self.grant(priority)) is not None:
            if priority is Priority.LOW:
                raise TimeoutError
            await self._clock.sleep_until(retry_at_s)
