"""Capture against a real RTSP server (GStreamer's, started here on 127.0.0.1): outages,
hangs, wrong URLs, credentials, and cameras that do not slow each other down."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from streamwatch.app.runner import App
from streamwatch.capture import CameraReader, CameraState, open_source
from streamwatch.config import CameraSettings, Settings
from streamwatch.overlay.board import EventSubscription

from .support.ports import free_port
from .support.rtsp_server import RtspServer, make_h264_clip, missing_rtsp_tools

FPS = 25
USER, PASSWORD = "viewer", "pa55-never-logged"
# Short on purpose: the tests wait through several outages.
FAST = {
    "stall_timeout_s": 2.0,
    "offline_after_s": 1.0,
    "reconnect_initial_s": 0.5,
    "reconnect_max_s": 4.0,
}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if reason := missing_rtsp_tools():
        pytest.skip(reason)
    path = tmp_path_factory.mktemp("rtsp") / "pattern.h264"
    return make_h264_clip(path, width=640, height=360, fps=FPS, seconds=4)


@pytest.fixture
def server(clip: Path) -> Iterator[RtspServer]:
    with RtspServer(clip, fps=FPS, user=USER, password=PASSWORD) as running:
        yield running


def _settings(*cameras: dict[str, object]) -> Settings:
    return Settings.model_validate(
        {
            "cameras": [{**FAST, **camera} for camera in cameras],
            "sinks": [],
            "overlay": {"web": False},
            "status": {"port": 0},
        }
    )


@asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[tuple[App, EventSubscription]]:
    stop = asyncio.Event()
    async with App(settings) as app, app.board.subscribe_events() as events:
        task = asyncio.create_task(app.run(stop))
        try:
            yield app, events
        finally:
            stop.set()
            await task


async def _next_event(events: EventSubscription, kind: str, timeout_s: float) -> float:
    """Wait for an event of `kind`; returns when it arrived (monotonic)."""
    async with asyncio.timeout(timeout_s):
        async for event in events:
            if event.kind == kind:
                return time.monotonic()
    raise AssertionError(f"the event feed ended before {kind}")


def _native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


async def test_outages_go_offline_and_back_without_leaking_threads(server: RtspServer) -> None:
    settings = _settings({"name": "door", "source": server.url()})
    camera = settings.cameras[0]
    async with _running(settings) as (app, events):
        reader = app.readers["door"]
        assert reader.latest is not None
        frame = await asyncio.wait_for(reader.latest.next(), timeout=10)
        threads_after_first_cycle = 0
        for cycle in range(5):
            server.kill()
            killed_s = time.monotonic()
            offline_s = await _next_event(events, "camera.offline", timeout_s=15)
            assert offline_s - killed_s <= camera.stall_timeout_s + camera.offline_after_s + 0.5
            assert reader.state is not CameraState.STREAMING

            server.start()
            back_s = time.monotonic()
            frame = await asyncio.wait_for(reader.latest.next(frame.sequence), timeout=10)
            assert time.monotonic() - back_s <= 5.0
            await _next_event(events, "camera.online", timeout_s=5)
            if cycle == 0:
                threads_after_first_cycle = _native_threads()
        # A leak shows as FFmpeg's threads piling up, several per reconnect.
        assert _native_threads() <= threads_after_first_cycle + 2
        assert [t.name for t in threading.enumerate()].count("capture-door") == 1
        assert reader.stats.reconnects >= 5


async def test_a_hung_camera_is_noticed_within_the_stall_timeout(server: RtspServer) -> None:
    settings = _settings({"name": "door", "source": server.url()})
    camera = settings.cameras[0]
    async with _running(settings) as (app, events):
        reader = app.readers["door"]
        assert reader.latest is not None
        frame = await asyncio.wait_for(reader.latest.next(), timeout=10)
        server.pause()  # connections stay open, nothing flows
        paused_s = time.monotonic()
        offline_s = await _next_event(events, "camera.offline", timeout_s=15)
        assert offline_s - paused_s <= camera.stall_timeout_s + camera.offline_after_s + 0.5
        server.resume()
        await asyncio.wait_for(reader.latest.next(frame.sequence), timeout=10)
        await _next_event(events, "camera.online", timeout_s=10)


def _thread_cpu_s(native_id: int) -> float:
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.parametrize("wrong", ["path", "port"])
async def test_a_wrong_url_reconnects_with_growing_back_off_at_almost_no_cpu(
    server: RtspServer, wrong: str
) -> None:
    url = server.url("no-such-path") if wrong == "path" else f"rtsp://127.0.0.1:{free_port()}/cam"
    camera = CameraSettings(name="wrong", source=url, **{**FAST, "reconnect_initial_s": 0.2})
    async with CameraReader(camera, open_source(camera)) as reader:
        ceilings = []
        version = reader.state_version
        thread = next(t for t in threading.enumerate() if t.name == "capture-wrong")
        assert thread.native_id is not None
        cpu_before_s, wall_before_s = _thread_cpu_s(thread.native_id), time.monotonic()
        async with asyncio.timeout(30):
            while reader.backoff_ceiling_s < camera.reconnect_max_s:
                version = await reader.state_change(version)
                ceilings.append(reader.backoff_ceiling_s)
        reconnects = reader.stats.reconnects
        cpu_share = (_thread_cpu_s(thread.native_id) - cpu_before_s) / (
            time.monotonic() - wall_before_s
        )
        assert reader.stats.frames_read == 0
    # 0.2 s doubling to the 4 s cap: at least 4 failed attempts, each waiting longer.
    assert ceilings == sorted(ceilings) and reconnects >= 4
    assert cpu_share < 0.01  # under 1 % of a core


async def test_credentials_never_reach_logs(
    server: RtspServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_password = server.url().replace(PASSWORD, "wrong-" + PASSWORD)
    settings = _settings(
        {"name": "door", "source": server.url()}, {"name": "bad", "source": wrong_password}
    )
    async with _running(settings) as (app, events):
        reader = app.readers["door"]
        assert reader.latest is not None
        await asyncio.wait_for(reader.latest.next(), timeout=10)
        server.kill()
        await _next_event(events, "camera.offline", timeout_s=15)
        assert PASSWORD not in str(app.readers["door"].stats)
        assert PASSWORD not in str(app.readers["bad"].stats)
    captured = capfd.readouterr()
    # The failure was logged, with the URL redacted.
    assert f"camera door: stream rtsp://{USER}:***@127.0.0.1" in caplog.text
    for text in (caplog.text, captured.out, captured.err):
        assert PASSWORD not in text


async def test_a_password_with_raw_reserved_characters_opens_the_camera_and_is_never_shown(
    clip: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    # As a camera's app shows it, unquoted. Before camera_url.py the URL's host was "viewer"
    # and its port "p": the App did not even start (ValueError from urlsplit).
    password = "p/a#s?s@w[o]r:d%"
    caplog.set_level(logging.DEBUG)
    with RtspServer(clip, fps=FPS, user=USER, password=password) as server:
        settings = _settings({"name": "door", "source": server.url()})
        async with _running(settings) as (app, events):
            reader = app.readers["door"]
            assert reader.latest is not None
            await asyncio.wait_for(reader.latest.next(), timeout=10)  # authenticated
            server.kill()
            await _next_event(events, "camera.offline", timeout_s=15)
            stats = str(reader.stats)
    assert f"camera door: stream rtsp://{USER}:***@127.0.0.1:{server.port}/cam" in caplog.text
    captured = capfd.readouterr()
    for text in (caplog.text, captured.out, captured.err, stats):
        assert password not in text and "s@w[o]r" not in text


async def test_a_dead_camera_does_not_slow_a_live_one(server: RtspServer) -> None:
    dead = f"rtsp://127.0.0.1:{free_port()}/cam"
    settings = _settings({"name": "live", "source": server.url()}, {"name": "dead", "source": dead})
    async with _running(settings) as (app, _events):
        live = app.readers["live"]
        assert live.latest is not None
        first = await asyncio.wait_for(live.latest.next(), timeout=10)
        # Count the frames the live camera delivers over the next 50 frame periods.
        frame = first
        async with asyncio.timeout(10):
            while frame.monotonic_s - first.monotonic_s < 50 / FPS:
                frame = await live.latest.next(frame.sequence)
        delivered = frame.sequence - first.sequence
        assert delivered >= 0.9 * 50
        assert app.readers["dead"].stats.frames_read == 0
        assert app.readers["dead"].state in (CameraState.RECONNECTING, CameraState.CONNECTING)


def _decoder_threads() -> int:
    """FFmpeg's frame-decoding threads in this process ("av:h264:df0", …)."""
    tasks = Path("/proc/self/task").iterdir()
    return sum((task / "comm").read_text().startswith("av:") for task in tasks)


async def test_a_stream_decoded_on_its_reader_thread_hands_each_frame_over_sooner(
    server: RtspServer,
) -> None:
    # The default, decode_threads = 1, against FFmpeg's own frame threads on the same stream:
    # each picture is in the pipeline's hands about a frame interval sooner, with no decoder
    # threads of its own.
    cameras = {
        name: CameraSettings(name=name, source=server.url(), decode_threads=threads, **FAST)
        for name, threads in (("own", 1), ("ffmpeg", 0))
    }
    arrived: dict[str, dict[bytes, float]] = {"own": {}, "ffmpeg": {}}

    async def collect(reader: CameraReader, frames: int) -> None:
        assert reader.latest is not None
        sequence = 0
        while len(arrived[reader.camera.name]) < frames:
            frame = await reader.latest.next(sequence)
            sequence = frame.sequence
            # The same picture from both readers: its bytes say which one it is.
            arrived[reader.camera.name].setdefault(
                frame.image[::16, ::16].tobytes(), frame.monotonic_s
            )

    own = CameraReader(cameras["own"], open_source(cameras["own"]))
    async with own:
        await asyncio.wait_for(collect(own, 1), timeout=10)
        assert _decoder_threads() == 0
        ffmpeg = CameraReader(cameras["ffmpeg"], open_source(cameras["ffmpeg"]))
        async with ffmpeg:
            await asyncio.wait_for(collect(ffmpeg, 1), timeout=10)
            assert _decoder_threads() >= 1
            await asyncio.wait_for(
                asyncio.gather(collect(own, 2 * FPS), collect(ffmpeg, 2 * FPS)), timeout=20
            )
    both = arrived["own"].keys() & arrived["ffmpeg"].keys()
    assert len(both) >= FPS
    later_ms = sorted((arrived["ffmpeg"][k] - arrived["own"][k]) * 1000 for k in both)
    # FFmpeg's threads hold a frame back (40 ms at 25 fps); half of that is the bar.
    assert later_ms[len(later_ms) // 2] >= 0.5 * 1000 / FPS
