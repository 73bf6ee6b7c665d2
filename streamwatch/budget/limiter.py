"""The call budget: how many requests may go to the cloud API, when, and how many at once.

- a global rate (the cloud API's provider rejects more than ~2 calls/s, and every call is
  billed), with part of every period kept for high-priority calls (priority.py);
- a minimum interval per camera, so one busy camera cannot take the whole rate;
- a daily budget (days in `budget.timezone`), with a clear state once spent, kept so that a
  restart does not give the day's calls back;
- a limit on calls in flight;
- freshness: a candidate that cannot be sent within `max_age_s` of its frame is dropped,
  never sent late (a stale picture answers a question nobody asks any more).

The rate and the day's count are a backend's (backend.py): this box's own (local.py), or an
account's shared by a fleet of boxes in Redis (shared.py). Pacing each camera, the slots in
flight and `max_age_s` are this box's, here.

Two steps, because only requests that reach the network are billed:

    async with budget.call(camera, frame_monotonic_s, priority) as permit:  # pacing, a slot
        ...                                                                  # client may refuse
        await permit.attempt()                                  # rate, daily cap, counted
        ...send the request...                                  # (again for each retry)

`call` paces the camera and takes a slot in flight, and gives the slot back on any exit,
cancellation included. `attempt` asks the backend to admit one request of the call's
priority: it waits for the rate, checks the daily cap *after* that wait (another camera, or
another box, may have taken the last call meanwhile) and counts the request. A call the client
refuses without sending (bad key, circuit open, out of credits) costs nothing, and each retry
goes through the same rate and the same count as a first attempt. The local analyzer is free:
it never asks the budget.

All of it in the time of a clock: the machine's, or a replayed recording's (streamwatch.clock).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date

from streamwatch.budget.backend import BackendHealth, BudgetBackend
from streamwatch.budget.days import Days
from streamwatch.budget.denial import BudgetDenied, DenialReason
from streamwatch.budget.ledger import CallLedger
from streamwatch.budget.local import LocalBackend
from streamwatch.budget.priority import Priority
from streamwatch.clock import SYSTEM_CLOCK, Clock
from streamwatch.config.budget import BudgetSettings

__all__ = ["BudgetDenied", "BudgetState", "CallBudget", "CallPermit", "DenialReason"]


@dataclass(frozen=True, slots=True)
class BudgetState:
    calls_today: int  # the account's, with a shared backend
    left_today: int | None  # None: no daily cap
    in_flight: int

    @property
    def spent(self) -> bool:
        return self.left_today == 0


class CallPermit:
    """One call's right to send requests, while its `CallBudget.call` block lasts."""

    def __init__(
        self, budget: CallBudget, camera: str, deadline_s: float, priority: Priority
    ) -> None:
        self._budget = budget
        self._camera = camera
        self._deadline_s = deadline_s
        self.priority = priority
        self.attempts = 0  # requests counted under this permit

    async def attempt(self) -> None:
        """Wait for the global rate, then count one request that is about to be sent.

        Raises BudgetDenied when the daily budget is spent (checked before and after the
        wait) or when the wait would outlast the frame's `max_age_s`.
        """
        budget = self._budget
        # A retry finishes a call already begun: it waits for its turn as a high call does,
        # where a low call's first request goes at once or not at all (priority.py).
        priority = self.priority if self.attempts == 0 else Priority.HIGH
        try:
            await budget.backend.admit(priority, self._deadline_s)
        except TimeoutError:
            raise budget.stale(self._camera) from None
        budget.calls_made += 1
        self.attempts += 1


class CallBudget:
    """Use inside `async with` (leaving it finishes the backend's writes and closes it)."""

    def __init__(
        self,
        settings: BudgetSettings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        today: Callable[[], date] | None = None,
        ledger: CallLedger | None = None,
        backend: BudgetBackend | None = None,
    ) -> None:
        """`backend`: where the rate and the day's count live; by default this box's own
        (`today` and `ledger` are its: the day of `clock`'s wall time in settings.timezone,
        and the file that keeps the day's count over restarts)."""
        self._settings = settings
        self.clock = clock
        if backend is None:
            days = Days.named(settings.timezone)
            backend = LocalBackend(
                settings,
                clock=clock,
                today=today or (lambda: days.day_of(clock.wall_s())),
                ledger=ledger,
            )
        self.backend = backend
        self._in_flight = asyncio.Semaphore(settings.max_concurrent)
        self._camera_next_call_s: dict[str, float] = {}
        self._in_flight_count = 0
        self.calls_made = 0  # requests counted since start

    async def __aenter__(self) -> CallBudget:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.backend.aclose()

    @property
    def state(self) -> BudgetState:
        day = self.backend.today()
        return BudgetState(day.calls, day.left, self._in_flight_count)

    @property
    def health(self) -> BackendHealth:
        return self.backend.health

    @asynccontextmanager
    async def call(
        self, camera: str, frame_monotonic_s: float, priority: Priority = Priority.HIGH
    ) -> AsyncIterator[CallPermit]:
        """Pace `camera` and hold a slot in flight for one call of `priority` on a frame taken
        at `frame_monotonic_s`; the permit counts its requests.

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
                yield CallPermit(self, camera, deadline_s, priority)
            finally:
                self._in_flight_count -= 1
        finally:
            self._in_flight.release()

    def check_daily(self) -> None:
        """BudgetDenied when the day's calls are known to be spent (no I/O)."""
        if self.state.spent:
            raise BudgetDenied(
                f"daily budget of {self._settings.daily_max_calls} calls spent; "
                f"calls resume at 00:00 {self._settings.timezone}",
                reason=DenialReason.DAILY_BUDGET_SPENT,
            )

    def stale(self, camera: str) -> BudgetDenied:
        return BudgetDenied(
            f"camera {camera}: candidate older than {self._settings.max_age_s} s dropped",
            reason=DenialReason.STALE,
        )
