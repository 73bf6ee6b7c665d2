"""Waits between attempts: exponential back-off with full jitter (cameras, sinks).

Full jitter (a uniform draw between 0 and the current ceiling) keeps the cameras of one dead
recorder, or the sinks of one dead receiver, from all retrying in the same instant.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial_s: float, max_s: float, *, rng: random.Random | None = None) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._rng = rng or random.Random()
        self.ceiling_s = initial_s

    def next_delay_s(self) -> float:
        """The next delay, then double the ceiling (up to max_s)."""
        delay_s = self._rng.uniform(0, self.ceiling_s)
        self.ceiling_s = min(self.ceiling_s * 2, self.max_s)
        return delay_s

    def reset(self) -> None:
        self.ceiling_s = self.initial_s
