"""The capture state machine's rules, with sources that misbehave on purpose."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import numpy as np

from streamwatch.backoff import Backoff
from streamwatch.capture import CameraReader, CameraState
from streamwatch.config import CameraSettings
from streamwatch.events.camera import CameraHealthRules


class RepeatingSource:
    """A live source whose picture (and, optionally, timestamp) never changes: a stuck encoder."""

    description = "stuck test source"
    pace_fps: float | None = 50.0
    finite = False

    def __init__(self, *, noisy: bool, advancing_timestamps: bool) -> None:
        self._noisy = noisy
        self._advancing = advancing_timestamps
        self._rng = np.random.default_rng(1)
        self._reads = 0
        self.opens = 0

    def open(self) -> None:
        self.opens += 1

    def read(self) -> np.ndarray | None:
        self._reads += 1
        if self._noisy:
            return self._rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        return np.full((48, 64, 3), 90, np.uint8)

    def position_ms(self) -> float | None:
        return self._reads * 20.0 if self._advancing else 1000.0

    def reachable(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _camera(**overrides: float) -> CameraSettings:
    values = {"stall_timeout_s": 0.3, "frozen_after_s": 0.3, "reconnect_initial_s": 0.05}
    return CameraSettings(name="stuck", source="demo", **{**values, **overrides})


async def _until(reader: CameraReader, condition: Callable[[], bool]) -> None:
    """Wait through state changes until `condition` holds (stalled is gone in a moment:
    the reader moves straight on to reconnecting, so tests look at what it leaves behind)."""
    version = reader.state_version
    async with asyncio.timeout(10):
        while not condition():
            version = await reader.state_change(version)


async def test_a_frozen_picture_is_a_stall_and_the_stream_is_reopened() -> None:
    source = RepeatingSource(noisy=False, advancing_timestamps=True)
    async with CameraReader(_camera(), source) as reader:
        await _until(reader, lambda: reader.stats.reconnects >= 1)
        await _until(reader, lambda: reader.state is CameraState.STREAMING)
        assert reader.stats.last_error is not None
        assert "picture frozen" in reader.stats.last_error
    assert source.opens >= 2


async def test_timestamps_that_stop_advancing_are_a_stall() -> None:
    source = RepeatingSource(noisy=True, advancing_timestamps=False)
    async with CameraReader(_camera(frozen_after_s=60), source) as reader:
        await _until(reader, lambda: reader.stats.reconnects >= 1)
        assert reader.stats.last_error is not None
        assert "timestamps stopped" in reader.stats.last_error


async def test_a_live_noisy_picture_is_not_a_stall() -> None:
    source = RepeatingSource(noisy=True, advancing_timestamps=True)
    async with CameraReader(_camera(), source) as reader:
        assert reader.latest is not None
        frame = await reader.latest.next()
        async with asyncio.timeout(10):
            while frame.sequence < 50:  # 1 s of frames, well past frozen_after_s
                frame = await reader.latest.next(frame.sequence)
        assert reader.stats.reconnects == 0 and source.opens == 1


def test_back_off_doubles_with_full_jitter_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(1.0, 8.0, rng=random.Random(3))
    delays = [backoff.next_delay_s() for _ in range(6)]
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert backoff.ceiling_s == 8.0
    backoff.reset()
    assert backoff.ceiling_s == 1.0


def test_offline_is_debounced_and_online_follows_only_an_offline() -> None:
    rules = CameraHealthRules(node="n", camera="door", offline_after_s=2.0)

    def observe(streaming: bool, at_s: float) -> list[str]:
        events = rules.observe(
            streaming=streaming, now_s=at_s, now_wall_s=1e9 + at_s, state="x", reason="gone"
        )
        return [event.kind for event in events]

    assert observe(True, 0.0) == []
    assert observe(False, 1.0) == []  # a hiccup…
    assert observe(True, 2.0) == []  # …that healed within the debounce: nothing to say
    assert observe(False, 3.0) == []
    assert rules.next_check_s() == 5.0
    assert observe(False, 5.0) == ["camera.offline"]
    assert observe(False, 9.0) == []  # said once
    assert observe(True, 10.0) == ["camera.online"]
