"""The call budget: how many requests may go to the cloud API, when, and how many at once.

- a global rate over all cameras (asyncio-throttle; the cloud API's provider rejects more
  than ~2 calls/s, and every call is billed);
- a minimum interval per camera, so one busy camera cannot take the whole rate;
- a daily budget (UTC days), with a clear state once spent, counted on disk (ledger.py) so
  that a restart does not give the day's calls back;
- a limit on calls in flight;
- freshness: a candidate that cannot be sent within `max_age_s` of its frame is dropped,
  never sent late (a stale picture answers a question nobody asks any more).

Two steps, because only requests that reach the network are billed:

    async with budget.call(camera, frame_monotonic_s) as permit:   # pacing, a slot in flight
        ...                                                         # the client may refuse here
        await permit.attempt()                                      # rate, daily cap, counted
        ...send the request...                                      # (again for each retry)

`call` paces the camera and takes a slot in flight, and gives the slot back on any exit,
cancellation included. `attempt` waits for the global rate, checks the daily cap *after* that
wait (another camera may have taken the last call meanwhile) and counts the request: a call the
client refuses without sending (bad key, circuit open, out of credits) costs nothing, and each
retry goes through the same rate and the same ledger as a first attempt. The local analyzer is
free: it never asks the budget.

All of it in the time of a clock: the machine's, or a replayed recording's (streamwatch.clock).
The ledger's fsync runs on a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from streamwatch.budget.ledger import CallLedger
from streamwatch.budget.rate import rate_limiter
from streamwatch.clock import SYSTEM_CLOCK, Clock
from streamwatch.config.model import BudgetSettings

log = logging.getLogger("streamwatch.budget")


class DenialReason(StrEnum):
    STALE = "stale"  # the frame would be older than max_age_s before its turn came
    DAILY_BUDGET_SPENT = "daily_budget_spent"


class BudgetDenied(Exception):
    """No request for this candidate, and why."""

    def __init__(self, message: str, *, reason: DenialReason) -> None:
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


class CallPermit:
    """One call's right to send requests, while its `CallBudget.call` block lasts."""

    def __init__(self, budget: CallBudget, camera: str, deadline_s: float) -> None:
        self._budget = budget
        self._camera = camera
        self._deadline_s = deadline_s
        self.attempts = 0  # requests counted under this permit

    async def attempt(self) -> None:
        """Wait for the global rate, then count one request that is about to be sent.

        Raises BudgetDenied when the daily budget is spent (checked before and after the
        wait) or when the wait would outlast the frame's `max_age_s`.
        """
        budget = self._budget
        budget.check_daily()
        try:
            async with budget.clock.timeout_at(self._deadline_s):
                await budget.rate.acquire()
        except TimeoutError:
            raise budget.stale(self._camera) from None
        budget.check_daily()  # no await between this check and the count: exact
        budget.count_request()
        self.attempts += 1


class CallBudget:
    """Use inside `async with` (it waits for the ledger's last write on the way out)."""

    def __init__(
        self,
        settings: BudgetSettings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        today: Callable[[], date] | None = None,
        ledger: CallLedger | None = None,
    ) -> None:
        self._settings = settings
        self.clock = clock
        self.rate = rate_limiter(settings.max_calls, settings.period_s, clock)
        self._in_flight = asyncio.Semaphore(settings.max_concurrent)
        self._today = today or (lambda: datetime.fromtimestamp(clock.wall_s(), UTC).date())
        self._ledger = ledger
        self._ledger_writes: set[asyncio.Future[None]] = set()
        self._day = self._today()
        self._calls_today = ledger.calls_on(self._day) if ledger else 0
        self._camera_next_call_s: dict[str, float] = {}
        self._in_flight_count = 0
        self.calls_made = 0  # requests counted since start

    async def __aenter__(self) -> CallBudget:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.flush()

    async def flush(self) -> None:
        """Until the ledger writes started so far are on disk."""
        while self._ledger_writes:
            await asyncio.gather(*self._ledger_writes, return_exceptions=True)

    @property
    def state(self) -> BudgetState:
        self._roll_day()
        return BudgetState(self._calls_today, self._settings.daily_max_calls, self._in_flight_count)

    @asynccontextmanager
    async def call(self, camera: str, frame_monotonic_s: float) -> AsyncIterator[CallPermit]:
        """Pace `camera` and hold a slot in flight for one call on a frame taken at
        `frame_monotonic_s`; the permit counts its requests.

        Raises BudgetDenied instead of waiting past the frame's `max_age_s`, or when the
        daily budget is spent.
        """
        self.check_daily()
        clock = self.clock
        deadline_s = frame_monotonic_s + self._settings.max_age_s
        try:
            async with clock.timeout_at(deadline_s):
                # Pacing this camera, not synchronisation.
                await clock.sleep_until(self._camera_next_call_s.get(camera, 0.0))
                await self._in_flight.acquire()
        except TimeoutError:
            raise self.stale(camera) from None
        # From here the slot is ours: give it back on any exit, cancellation included.
        try:
            self._camera_next_call_s[camera] = (
                clock.monotonic_s() + self._settings.camera_interval_s
            )
            self._in_flight_count += 1
            try:
                yield CallPermit(self, camera, deadline_s)
            finally:
                self._in_flight_count -= 1
        finally:
            self._in_flight.release()

    # Used by CallPermit.

    def check_daily(self) -> None:
        if self.state.spent:
            raise BudgetDenied(
                f"daily budget of {self._settings.daily_max_calls} calls spent; "
                "calls resume at 00:00 UTC",
                reason=DenialReason.DAILY_BUDGET_SPENT,
            )

    def stale(self, camera: str) -> BudgetDenied:
        return BudgetDenied(
            f"camera {camera}: candidate older than {self._settings.max_age_s} s dropped",
            reason=DenialReason.STALE,
        )

    def count_request(self) -> None:
        self._calls_today += 1
        self.calls_made += 1
        if self._ledger is not None:
            self._write_ledger(self._day, self._calls_today)
        if self.state.spent:
            log.warning("daily budget of %d calls spent", self._settings.daily_max_calls)

    def _write_ledger(self, day: date, calls: int) -> None:
        assert self._ledger is not None
        # fsync can take tens of milliseconds on an SD card: off the loop. The ledger keeps
        # the highest count of the day, so writes finishing out of order lose nothing.
        write = asyncio.get_running_loop().run_in_executor(None, self._ledger.record, day, calls)
        self._ledger_writes.add(write)
        write.add_done_callback(self._ledger_writes.discard)

    def _roll_day(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self._calls_today = today, 0
