"""A box's share of its account's budget, while the account's Redis cannot be reached.

The box neither stops nor overspends: it takes `share` of the account's rate (k calls per
period_s * k / (max_calls * share)) and of what was left of the account's day when Redis went
away (a day that begins without Redis: `share` of the daily cap). Shares that add up to 1 keep
the fleet within the account's rate on average and within its day exactly. Its calls are
counted in the box's own day count (and ledger), which the account's Redis takes in again once
it answers (scripts.py, "mine").
"""

from __future__ import annotations

import math
from datetime import date

from streamwatch.budget.backend import DayCount
from streamwatch.budget.daycount import DayCounter
from streamwatch.budget.denial import BudgetDenied, DenialReason
from streamwatch.budget.priority import Priority
from streamwatch.budget.rate import SlidingWindow
from streamwatch.clock import Clock
from streamwatch.config.budget import BudgetSettings


class LocalShare:
    def __init__(
        self,
        settings: BudgetSettings,
        *,
        share: float | None,
        own: DayCounter,
        account_calls: int,
        clock: Clock,
        why: str,
    ) -> None:
        """`share`: None while unknown (no call at all); `account_calls`: the account's calls
        today as last heard; `why`: what became of Redis, for messages."""
        self.share = share
        self._settings = settings
        self._own = own
        self._clock = clock
        self._why = why
        self._day = own.day
        self._own_then = own.calls
        self._account_then = account_calls
        cap = settings.daily_max_calls
        self.left_then = None if cap is None else max(0, cap - account_calls)
        self._window: SlidingWindow | None = None
        if share is not None:
            rate = settings.max_calls * share
            calls = max(1, math.floor(rate))
            # The margin the shared rate keeps too: requests sent a little late from a busy
            # box must not land in the same provider second as the next box's.
            self._window = SlidingWindow(
                calls,
                (settings.period_s + settings.rate_margin_s) * calls / rate,
                clock,
                reserve=min(calls - 1, math.floor(settings.reserve * share)),
            )

    async def admit(self, priority: Priority, deadline_s: float) -> None:
        if self._window is None:
            raise BudgetDenied(
                f"the shared budget ({self._why}) and this box's share of it are unknown",
                reason=DenialReason.SHARE_UNKNOWN,
            )
        self._check_day()
        async with self._clock.timeout_at(deadline_s):
            await self._window.acquire(priority)
        self._check_day()  # no await between this check and the count: exact
        self._own.add()

    def today(self) -> DayCount:
        """The account's calls as last heard plus this box's since; what is left of its share."""
        day, own = self._own.day, self._own.calls
        since = own - self._own_then if day == self._day else own
        account = (self._account_then if day == self._day else 0) + since
        limit = self._limit(day)
        return DayCount(day, account, None if limit is None else max(0, limit - own))

    def _check_day(self) -> None:
        limit = self._limit(self._own.day)
        if limit is not None and self._own.calls >= limit:
            raise BudgetDenied(
                f"this box's share ({limit} calls) of the account's day is spent while the "
                f"shared budget is unreachable; calls resume at 00:00 {self._settings.timezone}",
                reason=DenialReason.DAILY_BUDGET_SPENT,
            )

    def _limit(self, day: date) -> int | None:
        """This box's own calls of `day` may reach this (None: no daily cap, or no share)."""
        cap, share = self._settings.daily_max_calls, self.share
        if cap is None or share is None:
            return None
        if day == self._day and self.left_then is not None:
            return self._own_then + math.floor(self.left_then * share)
        return math.floor(cap * share)  # a day that began without Redis
