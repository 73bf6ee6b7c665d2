"""The global call rate: at most `max_calls` per `period_s`, in the time of a clock.

Live, asyncio-throttle counts in real time. A replay played faster than real time counts in
the recording's time instead: the same sliding window, on its clock.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol, cast

from asyncio_throttle.throttler import Throttler

from streamwatch.clock import Clock, SystemClock


class RateLimiter(Protocol):
    async def acquire(self) -> None:
        """Wait until one more call fits in the window, and count it."""
        ...


class ClockRateLimiter:
    """A sliding window of the last `max_calls` grants, on `clock`."""

    def __init__(self, max_calls: int, period_s: float, clock: Clock) -> None:
        self._period_s = period_s
        self._clock = clock
        self._granted_s: deque[float] = deque(maxlen=max_calls)

    async def acquire(self) -> None:
        if len(self._granted_s) == self._granted_s.maxlen:
            await self._clock.sleep_until(self._granted_s[0] + self._period_s)
        self._granted_s.append(self._clock.monotonic_s())


def rate_limiter(max_calls: int, period_s: float, clock: Clock) -> RateLimiter:
    if isinstance(clock, SystemClock):
        return cast(RateLimiter, Throttler(rate_limit=max_calls, period=period_s))
    return ClockRateLimiter(max_calls, period_s, clock)
