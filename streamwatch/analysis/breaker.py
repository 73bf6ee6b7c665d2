"""A circuit breaker: stop calling a service that keeps failing, and probe it now and then.

Closed: calls go through; `failure_threshold` failed attempts in a row open it. Open: every
call is refused at once, without the network, for `cooldown_s`. Then half-open: exactly one
call (the probe) goes through; its success closes the circuit, its failure opens it for
another cool-down. What counts as a failure is the caller's decision (the cloud client counts
provider faults and transport faults, not a bad image or a face-less one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Single event loop, no locking: every method runs to completion without awaiting."""

    def __init__(
        self,
        *,
        failure_threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or cooldown_s <= 0:
            raise ValueError("failure_threshold must be ≥ 1 and cooldown_s > 0")
        self._threshold = failure_threshold
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0  # consecutive
        self._opened_at_s: float | None = None
        self._probe_in_flight = False
        self.times_opened = 0

    @property
    def state(self) -> CircuitState:
        if self._opened_at_s is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at_s < self._cooldown_s:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_in_s(self) -> float:
        """How long until a probe may go (0 when closed or already half-open)."""
        if self._opened_at_s is None:
            return 0.0
        return max(0.0, self._opened_at_s + self._cooldown_s - self._clock())

    def allows(self) -> bool:
        """Whether `acquire()` would let a call through now (it changes nothing)."""
        state = self.state
        return state is CircuitState.CLOSED or (
            state is CircuitState.HALF_OPEN and not self._probe_in_flight
        )

    def acquire(self) -> bool:
        """Let a call through (True) or refuse it (False). A half-open pass is the probe: it
        must be followed by `success()`, `failure()` or `abandon()`."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._opened_at_s = None
        self._probe_in_flight = False

    def failure(self) -> None:
        self._failures += 1
        if self._probe_in_flight or (
            self._opened_at_s is None and self._failures >= self._threshold
        ):
            self._open()
        self._probe_in_flight = False

    def abandon(self) -> None:
        """A call that ended without a verdict (cancelled): its probe slot is free again."""
        self._probe_in_flight = False

    def _open(self) -> None:
        self._opened_at_s = self._clock()
        self.times_opened += 1
