"""Days of calls: the daily cap counts from midnight in the account's time zone.

A provider's credits, and the people who pay for them, count days in a time zone, not in UTC;
`budget.timezone` names it (IANA, e.g. "Europe/Paris"; DST changes handled by zoneinfo).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Days:
    zone: ZoneInfo

    @classmethod
    def named(cls, name: str) -> Days:
        return cls(ZoneInfo(name))

    def day_of(self, wall_s: float) -> date:
        """The day that Unix time `wall_s` falls on."""
        return datetime.fromtimestamp(wall_s, self.zone).date()

    def end_s(self, day: date) -> float:
        """The Unix time at which `day` ends (the next midnight there)."""
        return datetime.combine(day + timedelta(days=1), time(0), self.zone).timestamp()
