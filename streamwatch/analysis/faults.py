"""Fault injection for the emulator: the ways the real service and the network fail, on demand.

    Faults(latency_s=0.3)                          every answer 300 ms late
    Faults(error_rates={503: 0.1, 429: 0.01})      10 % HTTP 503, 1 % out of credits
    Faults(malformed_rate=0.05)                    5 % HTTP 200 whose JSON is cut short
    Faults(slow_body_rate=0.1, slow_body_s=5)      10 % of bodies trickled over 5 s
    Faults(reset_rate=0.02)                        2 % connections reset without an answer
    Faults(script=("503", "503", "ok"))            the first three requests, in this order

The rates are drawn per request from a seeded generator (so a test or a demo repeats); the
script, when given, decides the first requests and the rates apply after it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from streamwatch.analysis.envelope import (
    ERROR_AI_NOT_EXISTS,
    ERROR_NO_FACE_IN_FILE,
    ERROR_NOT_ENOUGH_CREDITS,
    ERROR_PARAMETERS,
    ERROR_USER_LOCKED,
    ERROR_USER_NOT_EXISTS,
    PROCESSING_FAILURE,
    ApiError,
)

# The documented error of each status the emulator can be told to answer with. 502-504 come
# from a gateway in front of the service: an HTML page, not the API's JSON.
INJECTABLE_ERRORS: Mapping[int, ApiError] = MappingProxyType(
    {
        400: ERROR_PARAMETERS,
        401: ERROR_USER_NOT_EXISTS,
        403: ERROR_USER_LOCKED,
        404: ERROR_AI_NOT_EXISTS,
        422: ERROR_NO_FACE_IN_FILE,
        429: ERROR_NOT_ENOUGH_CREDITS,
        500: PROCESSING_FAILURE,
        502: ApiError(502, "BAD_GATEWAY", "Bad Gateway"),
        503: ApiError(503, "SERVICE_UNAVAILABLE", "Service Temporarily Unavailable"),
        504: ApiError(504, "GATEWAY_TIMEOUT", "Gateway Time-out"),
    }
)
GATEWAY_STATUSES = frozenset({502, 503, 504})

FaultKind = Literal["none", "error", "malformed", "slow_body", "reset"]
SCRIPT_WORDS = ("ok", "malformed", "slow_body", "reset", *map(str, INJECTABLE_ERRORS))


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request's answer."""

    kind: FaultKind
    status: int | None = None  # kind "error": the status to answer with

    @property
    def error(self) -> ApiError:
        if self.status is None:
            raise ValueError(f"a {self.kind} fault has no error")
        return INJECTABLE_ERRORS[self.status]


NO_FAULT = Fault("none")


@dataclass(frozen=True, slots=True)
class Faults:
    latency_s: float = 0.0  # added to every answer
    latency_jitter_s: float = 0.0  # plus a uniform draw in [0, this)
    error_rates: Mapping[int, float] = field(default_factory=lambda: MappingProxyType({}))
    malformed_rate: float = 0.0
    slow_body_rate: float = 0.0
    slow_body_s: float = 2.0  # how long a slow body takes to trickle out
    reset_rate: float = 0.0
    script: tuple[str, ...] = ()
    seed: int | None = 0

    def __post_init__(self) -> None:
        if self.latency_s < 0 or self.latency_jitter_s < 0 or self.slow_body_s < 0:
            raise ValueError("latency_s, latency_jitter_s and slow_body_s must not be negative")
        unknown = sorted(set(self.error_rates) - set(INJECTABLE_ERRORS))
        if unknown:
            known = ", ".join(map(str, INJECTABLE_ERRORS))
            raise ValueError(f"cannot inject HTTP {unknown}: known statuses are {known}")
        rates = [*self.error_rates.values(), self.malformed_rate, self.slow_body_rate]
        rates.append(self.reset_rate)
        if any(not 0 <= rate <= 1 for rate in rates):
            raise ValueError("every fault rate must be in [0, 1]")
        if sum(rates) > 1 + 1e-9:
            raise ValueError(f"fault rates add up to {sum(rates):g}, more than 1")
        bad_words = [word for word in self.script if word not in SCRIPT_WORDS]
        if bad_words:
            raise ValueError(
                f"unknown fault(s) in the script: {', '.join(bad_words)}; "
                f"use {', '.join(SCRIPT_WORDS)}"
            )

    @property
    def active(self) -> bool:
        return bool(
            self.latency_s
            or self.latency_jitter_s
            or any(self.error_rates.values())
            or self.malformed_rate
            or self.slow_body_rate
            or self.reset_rate
            or self.script
        )

    def describe(self) -> str:
        """One line for a log: what is injected."""
        parts = []
        if self.latency_s or self.latency_jitter_s:
            parts.append(
                f"latency {self.latency_s * 1000:.0f}+{self.latency_jitter_s * 1000:.0f} ms"
            )
        parts += [f"HTTP {s} {r:.0%}" for s, r in sorted(self.error_rates.items()) if r]
        for name, rate in (
            ("malformed", self.malformed_rate),
            ("reset", self.reset_rate),
        ):
            if rate:
                parts.append(f"{name} {rate:.0%}")
        if self.slow_body_rate:
            parts.append(f"slow body {self.slow_body_rate:.0%} over {self.slow_body_s:g} s")
        if self.script:
            parts.append(f"script {','.join(self.script)}")
        return "; ".join(parts) or "none"


class FaultInjector:
    """Draws the fault of each request in turn; one per emulator."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._script = list(faults.script)
        self.injected = 0  # requests that got a fault

    def next_fault(self) -> Fault:
        fault = _from_word(self._script.pop(0)) if self._script else self._draw()
        if fault.kind != "none":
            self.injected += 1
        return fault

    def delay_s(self) -> float:
        jitter = self.faults.latency_jitter_s
        return self.faults.latency_s + (self._rng.uniform(0, jitter) if jitter else 0.0)

    def _draw(self) -> Fault:
        faults = self.faults
        if not (
            faults.error_rates
            or faults.malformed_rate
            or faults.slow_body_rate
            or faults.reset_rate
        ):
            return NO_FAULT
        point = self._rng.random()
        for status, rate in sorted(faults.error_rates.items()):
            if point < rate:
                return Fault("error", status)
            point -= rate
        for kind, rate in (
            ("malformed", faults.malformed_rate),
            ("slow_body", faults.slow_body_rate),
            ("reset", faults.reset_rate),
        ):
            if point < rate:
                return Fault(kind)  # type: ignore[arg-type]
            point -= rate
        return NO_FAULT


def _from_word(word: str) -> Fault:
    if word == "ok":
        return NO_FAULT
    if word.isdigit():
        return Fault("error", int(word))
    return Fault(word)  # type: ignore[arg-type]


def parse_error_rate(text: str) -> tuple[int, float]:
    """`"503=0.1"` → (503, 0.1), for the command line. ValueError says what is wrong."""
    status_text, sep, rate_text = text.partition("=")
    try:
        if not sep:
            raise ValueError
        status, rate = int(status_text), float(rate_text)
    except ValueError:
        raise ValueError(f"{text!r}: expected STATUS=RATE, e.g. 503=0.1") from None
    if status not in INJECTABLE_ERRORS:
        known = ", ".join(map(str, INJECTABLE_ERRORS))
        raise ValueError(f"{text!r}: cannot inject HTTP {status}; known statuses are {known}")
    if not 0 <= rate <= 1:
        raise ValueError(f"{text!r}: the rate must be in [0, 1]")
    return status, rate
