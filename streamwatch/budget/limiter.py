"""The call budget: how many analyses may be made, when, and how many at once.

- a global rate over all cameras (asyncio-throttle; the cloud API's provider rejects more
  than ~2 calls/s, and every call is billed);
- a minimum interval per camera, so one busy camera cannot take the whole rate;
- a daily budget (UTC days), with a clear state once spent, counted on disk (ledger.py) so
  that a restart does not give the day's calls back;
- a limit on calls in flight;
- freshness: a candidate that cannot be sent within `max_age_s` of its frame is dropped,
  never sent late (a stale picture answers a question nobody asks any more).

All of it in the time of a clock: the machine's, or a replayed recording's (streamwatch.clock).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from streamwatch.budget.ledger import CallLedger
from streamwatch.budget.rate import rate_limiter
from streamwatch.clock import SYSTEM_CLOCK, Clock
from streamwatch.config.model import BudgetSettings

log = logging.getLogger("streamwatch.budget")


class BudgetDenied(Exception):
    """No call for this candidate: `reason` is "stale" or "daily_budget_spent"."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BudgetState:
    calls_today: int
    daily_max_calls: int | None
    in_flight: int

    @property
    def spent(self) -> bool:
        return self.daily_max_calls is not None and self.calls_today >= self.daily_max_calls

    @property
    def left_today(self) -> int | None:
        if self.daily_max_calls is None:
            return None
        return max(0, self.daily_max_calls - self.calls_today)


class CallBudget:
    def __init__(
        self,
        settings: BudgetSettings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        today: Callable[[], date] | None = None,
        ledger: CallLedger | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._rate = rate_limiter(settings.max_calls, settings.period_s, clock)
        self._in_flight = asyncio.Semaphore(settings.max_concurrent)
        self._today = today or (lambda: datetime.fromtimestamp(clock.wall_s(), UTC).date())
        self._ledger = ledger
        self._day = self._today()
        self._calls_today = ledger.calls_on(self._day) if ledger else 0
        self._camera_next_call_s: dict[str, float] = {}
        self._in_flight_count = 0
        self.calls_made = 0

    @property
    def state(self) -> BudgetState:
        self._roll_day()
        return BudgetState(self._calls_today, self._settings.daily_max_calls, self._in_flight_count)

    @asynccontextmanager
    async def call(self, camera: str, frame_monotonic_s: float) -> AsyncIterator[None]:
        """Wait for the right to make one call for a frame taken at `frame_monotonic_s`.

        Raises BudgetDenied instead of waiting past the frame's `max_age_s`, or when the
        daily budget is spent.
        """
        if self.state.spent:
            raise BudgetDenied(
                f"daily budget of {self._settings.daily_max_calls} calls spent; "
                "calls resume at 00:00 UTC",
                reason="daily_budget_spent",
            )
        clock = self._clock
        acquired = False
        try:
            async with clock.timeout_at(frame_monotonic_s + self._settings.max_age_s):
                # Pacing this camera, not synchronisation.
                await clock.sleep_until(self._camera_next_call_s.get(camera, 0.0))
                await self._in_flight.acquire()
                acquired = True
                await self._rate.acquire()
        except TimeoutError:
            if acquired:
                self._in_flight.release()
            raise BudgetDenied(
                f"camera {camera}: candidate older than {self._settings.max_age_s} s dropped",
                reason="stale",
            ) from None
        self._camera_next_call_s[camera] = clock.monotonic_s() + self._settings.camera_interval_s
        self._calls_today += 1
        self.calls_made += 1
        if self._ledger is not None:
            self._ledger.record(self._day, self._calls_today)
        self._in_flight_count += 1
        if self.state.spent:
            log.warning("daily budget of %d calls spent", self._settings.daily_max_calls)
        try:
            yield
        finally:
            self._in_flight_count -= 1
            self._in_flight.release()

    def _roll_day(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self._calls_today = today, 0
