"""What the call budget asks of where the counts live (shared/DESIGN.md, "Budget backends").

`CallBudget` (limiter.py) keeps the policy that is a box's own: pacing each camera, the slots
in flight, a candidate's `max_age_s`. The counts that may be the account's — the rate over
`period_s` and the day's calls — are a backend's, like an HTTP client's transport:

- `LocalBackend` (local.py): this box alone, in memory, the day's count in a ledger file;
- `SharedBackend` (shared.py): every box of an account, in Redis; a local share of it while
  Redis cannot be reached.

Admitting a request and recording it are one step (`admit`): a record apart from the
admission would let two boxes both take the last call of the day. "What is left today" is read
without any I/O (`today`), as the last admission or heartbeat left it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from streamwatch.budget.priority import Priority


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    calls: int  # the day's calls counted so far (the account's, with a shared backend)
    left: int | None  # what may still be made today (None: no daily cap)


class BackendMode(StrEnum):
    LOCAL = "local"  # this box's own budget (no redis_url)
    SHARED = "shared"  # the account's budget, in Redis
    LOCAL_SHARE = "local_share"  # Redis unreachable: this box's share of the account's


@dataclass(frozen=True, slots=True)
class BackendHealth:
    mode: BackendMode
    detail: str = ""  # why it is on its local share (never the Redis URL: it may hold a password)
    account: str | None = None
    boxes: int | None = None  # the account's boxes Redis last counted
    share: float | None = None  # this box's share while on it (None: unknown, or not on it)
    own_calls_today: int = 0  # the calls this box made today
    outages: int = 0  # times the shared budget became unreachable
    reconciled_calls: int = 0  # calls made on the local share, added to the account's day since

    @property
    def degraded(self) -> bool:
        return self.mode is BackendMode.LOCAL_SHARE


class BudgetBackend(Protocol):
    async def admit(self, priority: Priority, deadline_s: float) -> None:
        """Wait for the rate, then count one request that is about to be sent.

        Raises TimeoutError when it could not be admitted by `deadline_s` (the budget's
        clock), BudgetDenied when the day's calls are spent (checked after any wait).
        """
        ...

    def today(self) -> DayCount:
        """The day's count as known now; no I/O."""
        ...

    @property
    def health(self) -> BackendHealth: ...

    async def aclose(self) -> None:
        """Finish the writes started so far (ledger, Redis); release connections."""
        ...
