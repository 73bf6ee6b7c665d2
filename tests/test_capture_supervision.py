"""A supervised reader: sources that raise (or kill their thread), cameras given up, a process
left with no camera, and one rule of camera health for /healthz, metrics and events."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from streamwatch.app.runner import App
from streamwatch.backoff import Backoff
from streamwatch.capture import CameraReader, CameraState, SourceError
from streamwatch.capture.health import CamerasGone, camera_health
from streamwatch.capture.sources import VideoSource
from streamwatch.config import CameraSettings, Settings
from streamwatch.events.model import Event
from streamwatch.overlay.board import EventSubscription

from .support.ports import free_port

# What a decoder's error message might quote: it must never reach a log, a state or an event.
SECRET = "hunter2"
LEAKY_MESSAGE = f"decoder gave up on rtsp://admin:{SECRET}@10.0.0.5/stream"


class KillsTheThread(BaseException):
    """Not an Exception: what no `except Exception` catches (as a thread killed from outside)."""


class ScriptedSource:
    """A live camera with noisy frames; `fault(connection, read)` may raise or block."""

    description = "stream rtsp://admin:***@10.0.0.5/stream"
    pace_fps: float | None = 50.0
    finite = False

    def __init__(self, fault: Callable[[int, int], None] = lambda connection, read: None) -> None:
        self._fault = fault
        self._rng = np.random.default_rng(1)
        self._reads = 0
        self.opens = 0

    def open(self) -> None:
        self.opens += 1
        self._reads = 0

    def read(self) -> np.ndarray | None:
        self._reads += 1
        self._fault(self.opens, self._reads)
        return self._rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)

    def position_ms(self) -> float | None:
        return None

    def reachable(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _first_read_raises(error: BaseException) -> Callable[[int, int], None]:
    def fault(connection: int, read: int) -> None:
        if connection == 1 and read == 1:
            raise error

    return fault


def _always_raises(connection: int, read: int) -> None:
    raise RuntimeError(LEAKY_MESSAGE)


class _Ceiling(random.Random):
    """Back-off draws at their ceiling: a failed state that lasts long enough to be seen."""

    def uniform(self, a: float, b: float) -> float:
        return b


def _camera(**overrides: object) -> CameraSettings:
    values = {"stall_timeout_s": 2.0, "reconnect_initial_s": 0.01, "reconnect_max_s": 0.05}
    return CameraSettings.model_validate({"name": "door", "source": "demo", **values, **overrides})


async def _until(reader: CameraReader, condition: Callable[[], bool]) -> None:
    version = reader.state_version
    async with asyncio.timeout(10):
        while not condition():
            version = await reader.state_change(version)


async def test_a_read_that_raises_fails_the_camera_then_it_is_reopened(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    source = ScriptedSource(_first_read_raises(RuntimeError(LEAKY_MESSAGE)))
    backoff = Backoff(0.3, 0.3, rng=_Ceiling())
    async with CameraReader(_camera(), source, backoff=backoff) as reader:
        await _until(reader, lambda: reader.state is CameraState.FAILED)
        failed = reader.stats
        await _until(reader, lambda: reader.state is CameraState.STREAMING)
        stats = reader.stats
    assert failed.failures == 1 and not failed.given_up
    assert failed.last_error is not None
    assert "RuntimeError in read()" in failed.last_error
    assert (stats.failures, stats.restarts, stats.reconnects, source.opens) == (1, 0, 1, 2)
    assert SECRET not in failed.last_error and SECRET not in caplog.text


async def test_a_reader_thread_that_dies_is_started_again() -> None:
    source = ScriptedSource(_first_read_raises(KillsTheThread()))
    async with CameraReader(_camera(), source) as reader:
        await _until(
            reader, lambda: reader.stats.restarts == 1 and reader.state is CameraState.STREAMING
        )
        stats = reader.stats
        assert reader.latest is not None
        await reader.latest.next()  # frames flow again
        assert [t.name for t in threading.enumerate()].count("capture-door") == 1
    assert stats.failures == 1 and source.opens == 2
    assert stats.last_error is not None and "reader thread died" in stats.last_error
    assert "KillsTheThread in read()" in stats.last_error


def _settings(*cameras: dict[str, object], status_port: int | None = None) -> Settings:
    return Settings.model_validate(
        {
            "cameras": [
                {"source": "demo", "reconnect_initial_s": 0.01, "reconnect_max_s": 0.05, **c}
                for c in cameras
            ],
            "sinks": [],
            "overlay": {"web": False},
            "status": {"enabled": status_port is not None, "port": status_port or 0},
        }
    )


def _sources(**by_camera: VideoSource) -> Callable[[CameraSettings], VideoSource]:
    return lambda camera: by_camera[camera.name]


async def _next_event(events: EventSubscription, kind: str, camera: str) -> Event:
    async with asyncio.timeout(20):
        async for event in events:
            if event.kind == kind and event.camera == camera:
                return event
    raise AssertionError(f"the event feed ended before {kind}")


async def test_a_camera_that_always_fails_is_given_up_announced_and_ends_the_run() -> None:
    # offline_after_s far away: a camera given up is announced at once, not after the debounce.
    settings = _settings({"name": "door", "max_failures": 3, "offline_after_s": 300})
    source = ScriptedSource(_always_raises)
    async with App(settings, sources=_sources(door=source)) as app:
        async with app.board.subscribe_events() as events:
            run = asyncio.create_task(app.run(asyncio.Event()))
            offline = await _next_event(events, "camera.offline", "door")
            with pytest.raises(CamerasGone) as gone:
                await asyncio.wait_for(run, timeout=10)
        stats = app.readers["door"].stats
    assert offline.data["state"] == "failed"
    assert str(offline.data["reason"]).startswith("given up: ")
    assert "RuntimeError in read()" in str(offline.data["reason"])
    assert stats.given_up and stats.failures == 3 and source.opens == 3
    assert gone.value.cameras == {"door": stats.last_error}
    assert SECRET not in str(gone.value) and SECRET not in str(offline.data)


async def test_one_camera_given_up_the_other_runs_on() -> None:
    settings = _settings({"name": "door", "max_failures": 2}, {"name": "yard"})
    sources = _sources(door=ScriptedSource(_always_raises), yard=ScriptedSource())
    async with App(settings, sources=sources) as app:
        stop = asyncio.Event()
        async with app.board.subscribe_events() as events:
            run = asyncio.create_task(app.run(stop))
            await _next_event(events, "camera.offline", "door")
            yard = app.readers["yard"]
            assert yard.latest is not None
            frame = await yard.latest.watch()
            await asyncio.wait_for(yard.latest.watch(frame.sequence), timeout=5)
            assert not run.done()
            assert app.readers["door"].stats.given_up
            assert camera_health(yard.stats, time.monotonic(), 2.0).healthy
            stop.set()
            await asyncio.wait_for(run, timeout=10)  # a normal end: no CamerasGone


def test_streamwatch_run_exits_non_zero_when_its_only_camera_is_given_up(tmp_path: Path) -> None:
    # A typo in the camera's host (an empty label) is not a failed open: the reachability
    # probe's name lookup raises UnicodeError. Before the supervised reader, that killed the
    # reader thread silently and `streamwatch run` exited 0.
    config = tmp_path / "c.toml"
    config.write_text(
        f"""
node = "t"
state_dir = "{tmp_path / "state"}"
[[cameras]]
name = "door"
source = "rtsp://viewer:{SECRET}@cam..local/stream"
reconnect_initial_s = 0.01
reconnect_max_s = 0.05
[overlay]
web = false
[status]
enabled = false
"""
    )
    done = subprocess.run(
        [sys.executable, "-m", "streamwatch", "run", "--config", str(config), "--duration", "60"],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    last_line = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1, done.stderr[-2000:]
    assert last_line.startswith("streamwatch: no camera left running; given up: door (")
    assert "UnicodeError in reachable()" in last_line
    assert SECRET not in done.stderr


async def test_a_streaming_camera_whose_read_hangs_is_unhealthy_everywhere() -> None:
    release = threading.Event()

    def hang_after_the_first_frame(connection: int, read: int) -> None:
        if read > 1:
            release.wait()  # a driver that ignores the read time-out
            raise SourceError("released")

    port = free_port()
    settings = _settings(
        {"name": "door", "stall_timeout_s": 0.5, "offline_after_s": 0.2}, status_port=port
    )
    source = ScriptedSource(hang_after_the_first_frame)
    async with App(settings, sources=_sources(door=source)) as app:
        stop = asyncio.Event()
        try:
            async with app.board.subscribe_events() as events:
                run = asyncio.create_task(app.run(stop))
                offline = await _next_event(events, "camera.offline", "door")
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    health_status, report = response.status, await response.json()
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    metrics = await response.text()
            assert app.readers["door"].state is CameraState.STREAMING
        finally:
            release.set()
            stop.set()
        await asyncio.wait_for(run, timeout=10)
    assert str(offline.data["reason"]).startswith("no frame for")
    assert health_status == 503
    door = report["cameras"]["door"]
    assert (door["healthy"], door["state"]) == (False, "streaming")
    assert door["reason"].startswith("no frame for")
    assert 'streamwatch_camera_up{camera="door"} 0.0' in metrics
    assert 'streamwatch_camera_reader_restarts_total{camera="door"} 0.0' in metrics
