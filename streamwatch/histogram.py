"""Latency histograms: a frozen value to read, a recorder to fill.

Shared by the parts that time something (API calls, deliveries); the daemon exports them to
Prometheus as they are.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

# Upper bounds (seconds) of the latency buckets: the API answers in a few hundred ms when well.
LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# In-process stages (a frame from capture until the gates are done with it) take milliseconds
# when the machine keeps up and hundreds of them when it does not.
STAGE_BUCKETS_S = (0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """Durations in buckets: `counts[i]` fell in (bounds[i-1], bounds[i]]; `overflow` above all.

    `cumulative()` gives Prometheus' "le" view.
    """

    bounds_s: tuple[float, ...] = LATENCY_BUCKETS_S
    counts: tuple[int, ...] = (0,) * len(LATENCY_BUCKETS_S)
    overflow: int = 0
    sum_s: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts) + self.overflow

    @property
    def mean_s(self) -> float | None:
        return self.sum_s / self.count if self.count else None

    def cumulative(self) -> tuple[tuple[float, int], ...]:
        """(upper bound, observations ≤ it) per bucket, ending with (inf, count)."""
        running = 0
        rows = []
        for bound, count in zip(self.bounds_s, self.counts, strict=True):
            running += count
            rows.append((bound, running))
        rows.append((float("inf"), running + self.overflow))
        return tuple(rows)

    def quantile_upper_bound_s(self, q: float) -> float | None:
        """The smallest bucket bound with at least a fraction `q` of observations at or below.

        `inf` when that fraction is only reached in the overflow; None with no observations.
        """
        if not 0 <= q <= 1:
            raise ValueError(f"quantile {q} is not in [0, 1]")
        if not self.count:
            return None
        needed = q * self.count
        for bound, at_or_below in self.cumulative():
            if at_or_below >= needed:
                return bound
        return float("inf")  # pragma: no cover - the last row always holds count


class HistogramRecorder:
    """The mutable side of a LatencyHistogram, owned by one task or one event loop."""

    def __init__(self, bounds_s: tuple[float, ...] = LATENCY_BUCKETS_S) -> None:
        if list(bounds_s) != sorted(set(bounds_s)):
            raise ValueError(f"bucket bounds must be increasing: {bounds_s}")
        self._bounds_s = bounds_s
        self._counts = [0] * len(bounds_s)
        self._overflow = 0
        self._sum_s = 0.0

    def observe(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self._sum_s += seconds
        index = bisect.bisect_left(self._bounds_s, seconds)
        if index == len(self._bounds_s):
            self._overflow += 1
        else:
            self._counts[index] += 1

    def snapshot(self) -> LatencyHistogram:
        return LatencyHistogram(self._bounds_s, tuple(self._counts), self._overflow, self._sum_s)
