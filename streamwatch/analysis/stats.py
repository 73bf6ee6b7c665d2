"""What the cloud client did: calls by outcome, retries, and how long the API took.

A small typed value (`CallStats`) the client hands out on request; the daemon exports it (to
Prometheus, health pages) without knowing the client. Labels come from a closed set of short
words, so no secret, URL or message text can ever become one.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Why a call failed: AnalyzerError.reason of the cloud client. Anything else is "other".
FAILURE_REASONS = (
    "bad_image",  # refused before sending (too small, not encodable)
    "bad_request",  # HTTP 400 and other 4xx the contract does not name
    "auth",  # 401 / 403 / 404, and every call refused after one
    "credits",  # 429, and every call refused during the pause after one
    "circuit_open",  # refused at once while the circuit breaker is open
    "server",  # 5xx after the retries
    "timeout",  # no (complete) answer within timeout_s, after the retries
    "connection",  # refused, reset or dropped connections, after the retries
    "malformed",  # an answer that is not the contract's JSON
    "other",
)
# Upper bounds (seconds) of the latency buckets: the API answers in a few hundred ms when well.
LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


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


@dataclass(frozen=True, slots=True)
class CallStats:
    """Counters of one client since it started.

    A call is one `analyze()`: it ends `ok` (faces found), `no_face` (HTTP 422: an analysis
    with no faces) or failed, counted by reason. `attempts` are HTTP requests made (a call
    refused before sending makes none); `retried` are those that repeated a failed one.
    `latency` is per attempt: request sent → answer read or failure.
    """

    ok: int = 0
    no_face: int = 0
    failed: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType(dict.fromkeys(FAILURE_REASONS, 0))
    )
    attempts: int = 0
    retried: int = 0
    in_flight: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    @property
    def calls(self) -> int:
        return self.ok + self.no_face + sum(self.failed.values())

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())


class StatsRecorder:
    """The mutable side of CallStats, owned by one client on one event loop."""

    def __init__(self, bounds_s: tuple[float, ...] = LATENCY_BUCKETS_S) -> None:
        if list(bounds_s) != sorted(set(bounds_s)):
            raise ValueError(f"bucket bounds must be increasing: {bounds_s}")
        self._bounds_s = bounds_s
        self._counts = [0] * len(bounds_s)
        self._overflow = 0
        self._sum_s = 0.0
        self.ok = 0
        self.no_face = 0
        self.failed = dict.fromkeys(FAILURE_REASONS, 0)
        self.attempts = 0
        self.retried = 0
        self.in_flight = 0

    def fail(self, reason: str) -> None:
        key = reason if reason in self.failed else "other"
        self.failed[key] += 1

    def observe_latency(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self._sum_s += seconds
        index = bisect.bisect_left(self._bounds_s, seconds)
        if index == len(self._bounds_s):
            self._overflow += 1
        else:
            self._counts[index] += 1

    def snapshot(self) -> CallStats:
        return CallStats(
            ok=self.ok,
            no_face=self.no_face,
            failed=MappingProxyType(dict(self.failed)),
            attempts=self.attempts,
            retried=self.retried,
            in_flight=self.in_flight,
            latency=LatencyHistogram(
                bounds_s=self._bounds_s,
                counts=tuple(self._counts),
                overflow=self._overflow,
                sum_s=self._sum_s,
            ),
        )
