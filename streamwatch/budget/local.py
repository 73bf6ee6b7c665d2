"""This box's budget alone: the rate in memory, the day's calls in memory and a ledger file.

The day's cap is checked before and after waiting for the rate (another camera may take the
last call meanwhile) with no await between the last check and the count: exact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from streamwatch.budget.backend import BackendHealth, BackendMode, DayCount
from streamwatch.budget.daycount import DayCounter
from streamwatch.budget.denial import BudgetDenied, DenialReason
from streamwatch.budget.ledger import CallLedger
from streamwatch.budget.priority import Priority
from streamwatch.budget.rate import rate_window
from streamwatch.clock import Clock
from streamwatch.config.budget import BudgetSettings

log = logging.getLogger("streamwatch.budget")


class LocalBackend:
    def __init__(
        self,
        settings: BudgetSettings,
        *,
        clock: Clock,
        today: Callable[[], date],
        ledger: CallLedger | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._rate = rate_window(
            settings.max_calls, settings.period_s, clock, reserve=settings.reserve
        )
        self._count = DayCounter(today, ledger)

    async def admit(self, priority: Priority, deadline_s: float) -> None:
        self._check_daily()
        async with self._clock.timeout_at(deadline_s):
            await self._rate.acquire(priority)
        self._check_daily()  # no await between this check and the count: exact
        self._count.add()
        if self.today().left == 0:
            log.warning("daily budget of %d calls spent", self._settings.daily_max_calls)

    def today(self) -> DayCount:
        calls, cap = self._count.calls, self._settings.daily_max_calls
        return DayCount(self._count.day, calls, None if cap is None else max(0, cap - calls))

    @property
    def health(self) -> BackendHealth:
        return BackendHealth(BackendMode.LOCAL, own_calls_today=self._count.calls)

    async def aclose(self) -> None:
        await self._count.flush()

    def _check_daily(self) -> None:
        if self.today().left == 0:
            raise BudgetDenied(
                f"daily budget of {self._settings.daily_max_calls} calls spent; "
                f"calls resume at 00:00 {self._settings.timezone}",
                reason=DenialReason.DAILY_BUDGET_SPENT,
            )
