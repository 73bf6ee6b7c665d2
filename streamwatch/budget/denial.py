"""Why no request may go for a candidate."""

from __future__ import annotations

from enum import StrEnum


class DenialReason(StrEnum):
    STALE = "stale"  # the frame would be older than max_age_s before its turn came
    DAILY_BUDGET_SPENT = "daily_budget_spent"  # the day's calls (or this box's share) spent
    # The shared budget is unreachable and this box's share of it is unknown (no
    # `budget.local_share`, and Redis never counted the account's boxes since the start).
    SHARE_UNKNOWN = "share_unknown"


class BudgetDenied(Exception):
    """No request for this candidate, and why."""

    def __init__(self, message: str, *, reason: DenialReason) -> None:
        super().__init__(message)
        self.reason = reason
