"""What the cloud client did: calls by outcome, retries, and how long the API took.

A small typed value (`CallStats`) the client hands out on request; the daemon exports it (to
Prometheus, health pages) without knowing the client. Labels come from a closed set of short
words, so no secret, URL or message text can ever become one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from streamwatch.histogram import LATENCY_BUCKETS_S, HistogramRecorder, LatencyHistogram

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
        self._latency = HistogramRecorder(bounds_s)
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
        self._latency.observe(seconds)

    def snapshot(self) -> CallStats:
        return CallStats(
            ok=self.ok,
            no_face=self.no_face,
            failed=MappingProxyType(dict(self.failed)),
            attempts=self.attempts,
            retried=self.retried,
            in_flight=self.in_flight,
            latency=self._latency.snapshot(),
        )
