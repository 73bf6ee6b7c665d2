"""A camera that cannot start is a camera state, never a daemon that stops: a video file that
does not exist is `failed` with the reason (camera.offline, /healthz 503 for it) while the
other cameras, the live view and the status server run on; a SIGHUP that points one camera at
a missing file keeps the others; `streamwatch check` refuses the file before anything runs.

On main before this work: the App raised SourceError at start (`run` printed a traceback), a
SIGHUP killed the daemon 4 ms later, and `check` said ok."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from streamwatch.app.runner import App
from streamwatch.capture import CameraState, VideoSource, open_source
from streamwatch.capture.health import camera_health
from streamwatch.config import CameraSettings, Settings

from .support.clips import noise_clip
from .support.ports import free_port
from .test_capture_supervision import SECRET, _next_event
from .test_daemon import _config, _until, daemon


def _settings(clip: Path, status_port: int) -> Settings:
    fast = {"reconnect_initial_s": 0.01, "reconnect_max_s": 0.05, "offline_after_s": 0.2}
    return Settings.model_validate(
        {
            "cameras": [
                {"name": "door", "source": str(clip), **fast},
                {"name": "yard", "source": "demo", **fast},
            ],
            "sinks": [],
            "overlay": {"web": False},
            "status": {"port": status_port},
        }
    )


async def test_a_missing_file_is_a_failed_camera_and_the_others_run_on(tmp_path: Path) -> None:
    clip = tmp_path / "door.avi"  # not there
    port = free_port()
    async with App(_settings(clip, port)) as app, app.board.subscribe_events() as events:
        stop = asyncio.Event()
        run = asyncio.create_task(app.run(stop))
        offline = await _next_event(events, "camera.offline", "door")
        yard = app.readers["yard"]
        assert yard.latest is not None
        await asyncio.wait_for(yard.latest.watch(), timeout=10)  # the other camera streams
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            status, report = response.status, await response.json()
        door = app.readers["door"].stats
        assert not run.done()
        stop.set()
        await asyncio.wait_for(run, timeout=10)
    assert offline.data["state"] == "failed"
    assert str(clip) in str(offline.data["reason"])
    assert door.state in (CameraState.FAILED, CameraState.CONNECTING) and not door.given_up
    assert status == 503
    assert report["cameras"]["door"]["healthy"] is False
    assert str(clip) in report["cameras"]["door"]["reason"]
    assert report["cameras"]["yard"]["healthy"] is True


async def test_a_source_that_raises_while_made_is_a_camera_given_up_not_an_app_that_dies() -> None:
    # As urlsplit's "Invalid IPv6 URL" for a password holding "[": not a SourceError.
    def sources(camera: CameraSettings) -> VideoSource:
        if camera.name == "door":
            raise ValueError(f"Invalid IPv6 URL in rtsp://viewer:{SECRET}@cam/x")
        return open_source(camera)

    settings = _settings(Path("/unused"), free_port())
    settings = settings.model_copy(
        update={"cameras": [c.model_copy(update={"max_failures": 2}) for c in settings.cameras]}
    )
    async with App(settings, sources=sources) as app, app.board.subscribe_events() as events:
        stop = asyncio.Event()
        run = asyncio.create_task(app.run(stop))
        offline = await _next_event(events, "camera.offline", "door")
        yard = app.readers["yard"]
        assert yard.latest is not None
        await asyncio.wait_for(yard.latest.watch(), timeout=10)
        assert not run.done()
        stop.set()
        await asyncio.wait_for(run, timeout=10)
        door = app.readers["door"].stats
    assert door.given_up and door.failures == 2
    assert "camera door's source: ValueError in " in str(offline.data["reason"])
    assert SECRET not in str(offline.data) and SECRET not in str(door.last_error)


async def test_the_camera_starts_by_itself_once_the_file_is_there(tmp_path: Path) -> None:
    clip = tmp_path / "door.avi"
    settings = _settings(clip, free_port())
    async with App(settings) as app:
        door = app.readers["door"]
        version = door.state_version
        async with asyncio.timeout(10):
            while door.state is not CameraState.FAILED:
                version = await door.state_change(version)
        noise_clip(clip, frames=50)
        stop = asyncio.Event()
        run = asyncio.create_task(app.run(stop))
        assert door.latest is not None
        frame = await asyncio.wait_for(door.latest.watch(), timeout=10)
        assert camera_health(door.stats, time.monotonic(), 5.0).healthy
        stop.set()
        await asyncio.wait_for(run, timeout=10)
    assert frame.camera == "door"


async def test_a_sighup_to_a_missing_file_keeps_the_daemon_and_the_other_camera(
    tmp_path: Path,
) -> None:
    clip = noise_clip(tmp_path / "door.avi", frames=50)
    config = _config(tmp_path / "two.toml", [("yard", "demo"), ("door", str(clip))])
    frames = 'streamwatch_camera_frames_total{{camera="{}"}}'.format
    async with daemon(config) as running:

        async def both_streaming() -> bool:
            values = await running.metrics()
            return values.get(frames("yard"), 0) > 0 and values.get(frames("door"), 0) > 0

        await _until(both_streaming)
        config.write_text(config.read_text().replace(str(clip), str(tmp_path / "gone.avi")))
        running.process.send_signal(signal.SIGHUP)
        await running.log_until("camera door changed: restarting it")
        await running.log_until("gone.avi")  # the reader says why it cannot start
        before = (await running.metrics())[frames("yard")]

        async def yard_goes_on() -> bool:
            return (await running.metrics())[frames("yard")] > before

        await _until(yard_goes_on)
        status, report = await running.health()
        assert running.process.returncode is None
    assert status == 503
    cameras = report["cameras"]
    assert isinstance(cameras, dict)
    assert cameras["yard"]["healthy"] is True
    assert cameras["door"]["healthy"] is False and "gone.avi" in cameras["door"]["reason"]


def test_check_refuses_a_video_file_that_does_not_exist(tmp_path: Path) -> None:
    clip = tmp_path / "no-such-clip.mp4"
    config = tmp_path / "c.toml"
    config.write_text(f'[[cameras]]\nname = "cam"\nsource = "{clip}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "streamwatch", "check", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"{config}: cameras[0].source: no such file: {clip} (give a video file's path, "
        '"demo", "usb:N", "/dev/videoN" or an rtsp:// URL)'
    ]


def test_check_refuses_a_file_that_is_not_a_video_and_accepts_one_that_is(tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    clip = noise_clip(tmp_path / "clip.avi", frames=5)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[[cameras]]\nname = "a"\nsource = "{notes}"\n[[cameras]]\nname = "b"\nsource = "{clip}"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "streamwatch", "check", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"{config}: cameras[0].source: {notes} is not a video FFmpeg can open"
    )
