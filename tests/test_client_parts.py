"""The cloud client's small parts on their own: the circuit breaker, the call stats, the
emulator's fault injection, and `streamwatch emulate` with its fault flags."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections import Counter

import aiohttp
import cv2
import numpy as np
import pytest

from streamwatch.analysis.breaker import CircuitBreaker, CircuitState
from streamwatch.analysis.contract import API_KEY_HEADER
from streamwatch.analysis.faults import Fault, FaultInjector, Faults, parse_error_rate
from streamwatch.analysis.geometric import draw_mark
from streamwatch.analysis.model import Box
from streamwatch.analysis.stats import FAILURE_REASONS, StatsRecorder
from streamwatch.histogram import LatencyHistogram


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


# --- breaker -----------------------------------------------------------------------------------


def state_of(breaker: CircuitBreaker) -> CircuitState:
    """`breaker.state`, read fresh: asserted on directly, mypy would keep it narrowed to the
    state asserted first across the failure()/success() calls that change it (python/mypy#9005)."""
    return breaker.state


def test_the_breaker_opens_after_the_threshold_in_a_row_only() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=10, clock=clock)

    breaker.failure()
    breaker.failure()
    breaker.success()  # the run is broken: counting starts again
    breaker.failure()
    breaker.failure()
    assert state_of(breaker) is CircuitState.CLOSED and breaker.acquire()
    breaker.failure()

    assert state_of(breaker) is CircuitState.OPEN
    assert not breaker.allows() and not breaker.acquire()
    assert breaker.retry_in_s() == 10
    assert breaker.times_opened == 1


def test_half_open_lets_one_probe_through_whose_verdict_decides() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=10, clock=clock)
    breaker.failure()
    clock.now_s = 10

    assert state_of(breaker) is CircuitState.HALF_OPEN
    assert breaker.acquire()  # the probe
    assert not breaker.acquire()  # nobody else while it is out
    breaker.failure()
    assert state_of(breaker) is CircuitState.OPEN and breaker.retry_in_s() == 10

    clock.now_s = 20
    assert breaker.acquire()
    breaker.success()
    assert state_of(breaker) is CircuitState.CLOSED and breaker.consecutive_failures == 0


def test_an_abandoned_probe_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=1, clock=clock)
    breaker.failure()
    clock.now_s = 1
    assert breaker.acquire()

    breaker.abandon()

    assert breaker.acquire()


# --- stats -------------------------------------------------------------------------------------


def test_the_latency_histogram_counts_per_bucket_and_cumulatively() -> None:
    recorder = StatsRecorder(bounds_s=(0.1, 0.5, 1.0))
    for seconds in (0.05, 0.1, 0.3, 0.31, 0.9, 4.0):
        recorder.observe_latency(seconds)

    latency = recorder.snapshot().latency

    assert latency.counts == (2, 2, 1) and latency.overflow == 1
    assert latency.cumulative() == ((0.1, 2), (0.5, 4), (1.0, 5), (float("inf"), 6))
    assert latency.count == 6 and latency.sum_s == pytest.approx(5.66)
    assert latency.quantile_upper_bound_s(0.5) == 0.5
    assert latency.quantile_upper_bound_s(0.99) == float("inf")
    assert LatencyHistogram().quantile_upper_bound_s(0.5) is None


def test_failure_reasons_are_a_closed_set_of_labels() -> None:
    recorder = StatsRecorder()
    recorder.fail("timeout")
    recorder.fail("something new, with text from a server")

    failed = recorder.snapshot().failed

    assert set(failed) == set(FAILURE_REASONS)
    assert (failed["timeout"], failed["other"]) == (1, 1)


def test_a_snapshot_does_not_change_afterwards() -> None:
    recorder = StatsRecorder()
    before = recorder.snapshot()
    recorder.ok += 1
    recorder.fail("server")

    assert (before.ok, before.failed["server"], before.calls) == (0, 0, 0)
    assert recorder.snapshot().calls == 2


# --- faults ------------------------------------------------------------------------------------


def test_fault_rates_are_drawn_as_configured_and_repeat_with_the_seed() -> None:
    faults = Faults(error_rates={503: 0.2, 429: 0.1}, malformed_rate=0.1, reset_rate=0.05, seed=4)

    def draw(n: int) -> list[Fault]:
        injector = FaultInjector(faults)
        return [injector.next_fault() for _ in range(n)]

    first = draw(5000)
    kinds = Counter(f"{f.kind}{f.status or ''}" for f in first)

    assert first == draw(5000)
    assert kinds["error503"] / 5000 == pytest.approx(0.2, abs=0.02)
    assert kinds["error429"] / 5000 == pytest.approx(0.1, abs=0.015)
    assert kinds["malformed"] / 5000 == pytest.approx(0.1, abs=0.015)
    assert kinds["reset"] / 5000 == pytest.approx(0.05, abs=0.01)
    assert kinds["none"] / 5000 == pytest.approx(0.55, abs=0.03)


def test_a_script_decides_the_first_requests_then_the_rates_apply() -> None:
    injector = FaultInjector(Faults(script=("503", "ok", "reset"), error_rates={500: 1.0}))

    faults = [injector.next_fault() for _ in range(4)]

    assert faults == [Fault("error", 503), Fault("none"), Fault("reset"), Fault("error", 500)]
    assert injector.injected == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"error_rates": {418: 0.5}}, "cannot inject HTTP [418]"),
        ({"error_rates": {500: 0.7}, "reset_rate": 0.5}, "add up to 1.2"),
        ({"malformed_rate": -0.1}, "in [0, 1]"),
        ({"script": ("500", "teapot")}, "unknown fault(s) in the script: teapot"),
        ({"latency_s": -1}, "must not be negative"),
    ],
)
def test_impossible_faults_are_refused_with_the_reason(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        Faults(**kwargs)  # type: ignore[arg-type]

    assert message in str(caught.value)


def test_error_rates_parse_from_the_command_line_form() -> None:
    assert parse_error_rate("503=0.25") == (503, 0.25)
    for bad in ("503", "x=0.1", "503=2", "999=0.1"):
        with pytest.raises(ValueError):
            parse_error_rate(bad)


def test_faults_describe_themselves_in_one_line() -> None:
    faults = Faults(latency_s=0.3, error_rates={503: 0.1}, slow_body_rate=0.05, slow_body_s=4)

    assert faults.active and not Faults().active
    assert faults.describe() == "latency 300+0 ms; HTTP 503 10%; slow body 5% over 4 s"
    assert Faults().describe() == "none"


# --- `streamwatch emulate` with faults ----------------------------------------------------------


async def test_emulate_serves_the_faults_its_flags_ask_for() -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "streamwatch", "emulate", "--port", "0"),
        *("--analyzer", "geometric", "--fault-script", "503,429", "--latency-ms", "50"),
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "STREAMWATCH_EMULATOR_KEY": "sk-cli"},
    )
    try:
        assert process.stderr is not None
        line = (await asyncio.wait_for(process.stderr.readline(), 60)).decode()
        found = re.search(r"at (http://\S+) ", line)
        assert found, line
        assert "geometric analyzer" in line and "script 503,429" in line
        frame = np.full((240, 320, 3), 120, np.uint8)
        draw_mark(frame, Box(100, 60, 80, 100))
        ok, jpeg = cv2.imencode(".jpg", frame)
        assert ok
        statuses = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for _ in range(3):
                form = aiohttp.FormData()
                form.add_field("image", bytes(jpeg), filename="f.jpg", content_type="image/jpeg")
                async with session.post(
                    found.group(1), data=form, headers={API_KEY_HEADER: "sk-cli"}
                ) as response:
                    statuses.append(response.status)
                    body = await response.read()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)

    assert statuses == [503, 429, 200]
    assert b'"face_count": 1' in body


def test_emulate_refuses_impossible_faults_in_one_line() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamwatch",
            "emulate",
            "--error-rate",
            "503=0.8",
            "--reset-rate",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.strip() == ("streamwatch: emulate: fault rates add up to 1.3, more than 1")
