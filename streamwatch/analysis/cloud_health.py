"""Whether the cloud client is calling the API: its state, for health checks and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streamwatch.analysis.breaker import CircuitState


class CloudState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # circuit open or half-open: calls refused until a probe succeeds
    PAUSED = "paused"  # out of credits: calls refused until the pause ends
    FAILING = "failing"  # bad key, locked account or wrong URL: calls stopped until restart


@dataclass(frozen=True, slots=True)
class CloudHealth:
    """Whether the client is calling the API, for health checks and the status page."""

    state: CloudState
    detail: str  # what happened, with the request_id when there was one; never the key
    circuit: CircuitState
    consecutive_failures: int
    retry_in_s: float | None = None  # paused or degraded: when calls are tried again
