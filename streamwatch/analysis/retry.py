"""How often and how patiently a failed call is tried again."""

from __future__ import annotations

import random
from dataclasses import dataclass

from streamwatch.config.model import AnalyzerSettings


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential back-off with full jitter.

    Full jitter (a uniform draw between 0 and the exponential ceiling) spreads the retries of
    several cameras that failed together, so they do not hit a recovering service in step.
    """

    retries: int = 2  # after the first attempt
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError(f"retry policy values must not be negative: {self}")

    @classmethod
    def from_settings(cls, settings: AnalyzerSettings) -> RetryPolicy:
        return cls(
            retries=settings.retries,
            base_delay_s=settings.retry_base_delay_s,
            max_delay_s=settings.retry_max_delay_s,
        )

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def delay_s(self, retry_index: int, rng: random.Random) -> float:
        """The pause before retry number `retry_index` (0 for the first retry)."""
        ceiling_s = min(self.max_delay_s, self.base_delay_s * 2**retry_index)
        return rng.uniform(0.0, ceiling_s)
