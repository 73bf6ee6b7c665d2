"""Capture: sources, the reader thread and the newest-frame hand-over."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.capture import (
    CameraClosed,
    CameraReader,
    CameraState,
    Frame,
    LatestFrame,
    SourceError,
    open_source,
    redact,
)
from streamwatch.capture.demo import DemoSource, VisitTimeline
from streamwatch.config import CameraSettings


def _frame(sequence: int) -> Frame:
    return Frame("cam", sequence, time.time(), time.monotonic(), np.zeros((4, 4, 3), np.uint8))


async def test_latest_frame_keeps_only_the_newest() -> None:
    latest = LatestFrame(asyncio.get_running_loop())
    for sequence in range(1, 6):
        latest.put(_frame(sequence))
    assert (await latest.next()).sequence == 5


async def test_latest_frame_wakes_a_waiter_from_another_thread() -> None:
    latest = LatestFrame(asyncio.get_running_loop())
    waiter = asyncio.create_task(latest.next(after_sequence=0))
    await asyncio.sleep(0)  # let the waiter block on the empty slot
    assert not waiter.done()
    threading.Thread(target=latest.put, args=(_frame(1),)).start()
    frame = await asyncio.wait_for(waiter, timeout=5)
    assert frame.sequence == 1


async def test_latest_frame_close_ends_the_waiters() -> None:
    latest = LatestFrame(asyncio.get_running_loop())
    waiter = asyncio.create_task(latest.next())
    await asyncio.sleep(0)
    latest.close()
    with pytest.raises(CameraClosed):
        await asyncio.wait_for(waiter, timeout=5)


def test_redact_hides_the_password_and_keeps_the_rest() -> None:
    url = "rtsp://admin:hunter2@127.0.0.1:8554/cam?x=1"
    assert redact(url) == "rtsp://admin:***@127.0.0.1:8554/cam?x=1"
    assert redact("rtsp://127.0.0.1/cam") == "rtsp://127.0.0.1/cam"


def test_stream_source_description_has_no_password() -> None:
    camera = CameraSettings(name="door", source="rtsp://admin:hunter2@127.0.0.1:8554/cam")
    assert "hunter2" not in open_source(camera).description


def test_unknown_source_spec_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match="neither 'demo', 'usb:N'"):
        open_source(CameraSettings(name="x", source="/no/such/clip.mp4"))


def test_missing_usb_device_is_a_clear_error() -> None:
    source = open_source(CameraSettings(name="x", source="usb:87"))
    with pytest.raises(SourceError, match=r"/dev/video87 does not exist"):
        source.open()


async def test_file_source_reads_a_real_clip_to_its_end(media_dir: Path) -> None:
    clip = media_dir / "videos" / "mask_on_off.mp4"
    camera = CameraSettings(name="clip", source=str(clip), loop=False, realtime=False)
    async with CameraReader(camera, open_source(camera)) as reader:
        assert reader.latest is not None
        sequence, sizes = -1, set()
        with pytest.raises(CameraClosed):
            while True:
                frame = await asyncio.wait_for(reader.latest.next(sequence), timeout=30)
                sequence = frame.sequence
                sizes.add((frame.width_px, frame.height_px))
                assert not frame.image.flags.writeable
        assert reader.stats.state is CameraState.FINISHED
        # 3.9 s at 10 fps: every frame decoded, the consumer saw the last one.
        assert 35 <= reader.stats.frames_read <= 42
        assert sequence == reader.stats.frames_read
        assert sizes == {(600, 338)}


async def test_slow_consumer_gets_fresh_frames_not_a_backlog(media_dir: Path) -> None:
    # The consumer runs the face detector on every frame it takes, far slower than decoding:
    # it must skip to the newest frame each time, and still see the clip's last one.
    clip = media_dir / "videos" / "asl_5people_sequence.mp4"
    camera = CameraSettings(name="clip", source=str(clip), loop=False, realtime=False)
    taken: list[int] = []
    async with LocalAnalyzer() as analyzer, CameraReader(camera, open_source(camera)) as reader:
        assert reader.latest is not None
        with pytest.raises(CameraClosed):
            while True:
                frame = await asyncio.wait_for(reader.latest.next(taken[-1] if taken else -1), 30)
                taken.append(frame.sequence)
                await analyzer.analyze(frame.image)
    assert taken[-1] == reader.stats.frames_read  # the newest frame, not a queued one
    assert len(taken) < reader.stats.frames_read  # frames were dropped, not queued
    assert taken == sorted(set(taken))


def test_demo_source_shows_a_real_face_that_comes_and_goes() -> None:
    timeline = VisitTimeline()
    source = DemoSource(timeline)
    source.open()
    frames = [source.read() for _ in range(int(timeline.cycle_s * 15))]

    async def faces_at(seconds: list[float]) -> list[int]:
        async with LocalAnalyzer() as analyzer:
            counts = []
            for t_s in seconds:
                image = frames[int(t_s * 15)]
                assert image is not None
                counts.append((await analyzer.analyze(image)).face_count)
            return counts

    # Empty before the visit, one face while standing, empty again after.
    assert asyncio.run(faces_at([0.5, 4.0, 6.0, 15.0])) == [0, 1, 1, 0]
