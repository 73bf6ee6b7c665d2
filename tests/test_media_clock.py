"""A replay's clock: waits end when the frames reach their time; the budget and the frame
hand-over run on it."""

from __future__ import annotations

import asyncio
import time

import pytest

from streamwatch.budget.limiter import BudgetDenied, CallBudget
from streamwatch.capture.demo import FPS, DemoSource
from streamwatch.capture.reader import CameraReader
from streamwatch.capture.stepped import SteppedFrames
from streamwatch.clock import MediaClock
from streamwatch.config import BudgetSettings
from streamwatch.config.model import CameraSettings
from streamwatch.replay.recording import EndAfter

# Nothing here waits on real time: a test that hangs has a clock that did not wake a waiter.
TIMEOUT_S = 10


async def test_a_sleep_ends_when_the_frames_reach_its_time_and_not_before() -> None:
    clock = MediaClock(fps=10)
    hold = clock.hold()

    async def sleeper() -> float:
        await clock.sleep_until(1.0)
        hold.release()
        return clock.monotonic_s()

    task = asyncio.create_task(sleeper())
    async with asyncio.timeout(TIMEOUT_S):
        await clock.settled()  # the holder sleeps: time may move on
        clock.advance_to(0.5)
        await clock.settled()  # still asleep: had it woken, its hold would keep this waiting
        assert not task.done()
        clock.advance_to(1.0)
        assert await task == 1.0
        await clock.settled()


async def test_the_budget_paces_a_camera_in_media_time() -> None:
    clock = MediaClock(fps=10)
    budget = CallBudget(
        BudgetSettings(max_calls=10, camera_interval_s=0.5, max_age_s=2.0), clock=clock
    )
    granted_s: list[float] = []

    async def call(frame_s: float) -> None:
        async with budget.call("door", frame_s) as permit:
            await permit.attempt()
            granted_s.append(clock.monotonic_s())

    async with asyncio.timeout(TIMEOUT_S):
        await call(0.0)
        clock.advance_to(0.1)
        second = asyncio.create_task(call(0.1))
        await _asleep(clock)
        clock.advance_to(0.4)
        await _asleep(clock)
        assert granted_s == [0.0]
        clock.advance_to(0.5)
        await second
    assert granted_s == [0.0, 0.5]


async def test_a_candidate_the_budget_holds_past_max_age_in_media_time_is_dropped() -> None:
    clock = MediaClock(fps=10)
    budget = CallBudget(
        BudgetSettings(max_calls=10, camera_interval_s=1.0, max_age_s=0.2), clock=clock
    )

    async def call(frame_s: float) -> None:
        async with budget.call("door", frame_s) as permit:
            await permit.attempt()

    async with asyncio.timeout(TIMEOUT_S):
        await call(0.0)
        second = asyncio.create_task(call(0.0))
        await _asleep(clock)
        clock.advance_to(0.3)  # past 0.0 + max_age, long before the interval ends
        with pytest.raises(BudgetDenied) as denied:
            await second
    assert denied.value.reason == "stale"
    assert budget.calls_made == 1


async def test_the_global_rate_is_a_sliding_window_of_media_time() -> None:
    clock = MediaClock(fps=10)
    budget = CallBudget(
        BudgetSettings(max_calls=2, period_s=1.0, camera_interval_s=0, max_age_s=5), clock=clock
    )
    granted_s: list[float] = []

    async def call() -> None:
        async with budget.call("door", clock.monotonic_s()) as permit:
            await permit.attempt()
            granted_s.append(clock.monotonic_s())

    async with asyncio.timeout(TIMEOUT_S):
        await call()
        await call()
        third = asyncio.create_task(call())
        await _asleep(clock)
        clock.advance_to(0.9)
        await _asleep(clock)
        clock.advance_to(1.0)
        await third
    assert granted_s == [0.0, 0.0, 1.0]


async def test_the_stepped_hand_over_gives_every_frame_in_media_time_to_a_slow_pipeline() -> None:
    clock = MediaClock(fps=FPS)
    camera = CameraSettings(name="demo", source="demo", loop=False)
    frames = 30
    sequences: list[int] = []
    times_s: list[float] = []
    async with asyncio.timeout(60):
        reader = CameraReader(camera, EndAfter(DemoSource(), frames), media_clock=clock)
        async with reader:
            assert isinstance(reader.latest, SteppedFrames)
            sequence = -1
            while len(sequences) < frames:
                frame = await reader.latest.next(sequence)
                sequence = frame.sequence
                sequences.append(frame.sequence)
                times_s.append(frame.monotonic_s)
                assert frame.timestamp_s == pytest.approx(clock.start_wall_s + frame.monotonic_s)
                # Slower than the demo decodes: a one-slot hand-over would drop frames here.
                await asyncio.to_thread(time.sleep, 0.02)
    assert sequences == list(range(1, frames + 1))
    assert times_s == pytest.approx([(n - 1) / FPS for n in sequences])
    assert clock.monotonic_s() == pytest.approx((frames - 1) / clock.fps)
    assert reader.stats.frames_dropped == 0


async def _asleep(clock: MediaClock) -> None:
    """Until the waiting call sleeps on the clock (it holds the clock as a pipeline would)."""
    hold = clock.hold()
    try:
        await clock.settled()
    finally:
        hold.release()
