"""Faces followed by a running App on the demo scene: a stepped wall clock, a camera reload,
face crops. Events are read as the live view gets them (the board), so the test sees each
one as it is published."""

from __future__ import annotations

import asyncio
import base64
import functools
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import cv2
import numpy as np
import pytest

import streamwatch.app.runner
import streamwatch.events.crop
from streamwatch.app.runner import App
from streamwatch.capture.demo import DemoSource, VisitTimeline
from streamwatch.capture.reader import CameraReader
from streamwatch.config import Settings
from streamwatch.events import Event, EventKind
from streamwatch.overlay.board import EventSubscription

ARRIVALS = (EventKind.FACE_NEW, EventKind.FACE_RETURNED)
# One visit, early and short: in the door at 0.5 s, at the kiosk from 1.5 s, gone at 5 s.
SHORT_VISIT = VisitTimeline(enter_s=0.5, entered_s=1.5, leave_s=4.0, left_s=5.0, cycle_s=600.0)
# A person who stays at the kiosk for the whole test.
STAYING = VisitTimeline(enter_s=0.5, entered_s=1.5, leave_s=500.0, left_s=550.0, cycle_s=600.0)


def _settings(**rules: Any) -> Settings:
    return Settings.model_validate(
        {
            "cameras": [{"name": "door", "source": "demo", "rules": rules}],
            "sinks": [],
            "overlay": {"web": False},
            "status": {"enabled": False},
        }
    )


@asynccontextmanager
async def _running(
    settings: Settings, timeline: VisitTimeline
) -> AsyncIterator[tuple[App, EventSubscription]]:
    stop = asyncio.Event()
    app = App(settings, sources=lambda camera: DemoSource(timeline))
    async with app, app.board.subscribe_events() as events:
        task = asyncio.create_task(app.run(stop))
        try:
            yield app, events
        finally:
            stop.set()
            await task


async def _next(events: EventSubscription, *kinds: EventKind, timeout_s: float = 30) -> Event:
    """The next event of one of these kinds (others are skipped)."""
    async with asyncio.timeout(timeout_s):
        async for event in events:
            if event.kind in kinds:
                return event
    raise AssertionError("the subscription ended")


async def test_a_stepped_wall_clock_neither_ends_the_visit_nor_freezes_its_departure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # NTP on a box with no RTC: the wall clock the frames are stamped with jumps an hour
    # ahead 2 s into the run, and back an hour 1 s later. Before, every track ended at the
    # first step (face.left, then a new face), and none could end after the second.
    started_s = time.monotonic()

    def stepped_wall_clock() -> float:
        elapsed_s = time.monotonic() - started_s
        return time.time() + (3600.0 if 2.0 <= elapsed_s < 3.0 else 0.0)

    reader = functools.partial(CameraReader, clock=stepped_wall_clock)
    monkeypatch.setattr(streamwatch.app.runner, "CameraReader", reader)
    seen: list[Event] = []
    async with _running(_settings(), SHORT_VISIT) as (_, events):
        async with asyncio.timeout(20):
            async for event in events:
                seen.append(event)
                if event.kind is EventKind.FACE_LEFT:
                    break
        left_after_s = time.monotonic() - started_s
    kinds = [event.kind for event in seen]
    assert kinds.count(EventKind.FACE_NEW) == 1 and EventKind.FACE_RETURNED not in kinds
    (arrival,) = [event for event in seen if event.kind in ARRIVALS]
    left = seen[-1]
    assert left.subject == arrival.subject
    # The whole visit (about 1 to 5 s into the run), ended left_after_s (3 s) after it.
    assert left.data["dwell_s"] > 2.5
    assert 5.0 < left_after_s < 12.0


async def test_a_camera_reload_says_its_faces_left_and_never_reuses_a_track_id() -> None:
    settings = _settings()
    async with _running(settings, STAYING) as (app, events):
        before = await _next(events, *ARRIVALS)
        changed = settings.cameras[0].model_copy(update={"stall_timeout_s": 7.0})
        assert await app.reload(settings.model_copy(update={"cameras": [changed]}))
        left = await _next(events, EventKind.FACE_LEFT, timeout_s=1)  # published in the reload
        after = await _next(events, *ARRIVALS)
    assert left.subject == before.subject
    assert left.data["identity_id"] == before.data["identity_id"]
    assert after.subject is not None and before.subject is not None
    # The restarted camera counts on: "door-1" names one face for the life of the process.
    assert _number(after.subject) > _number(before.subject)


def _number(track_id: str) -> int:
    return int(track_id.rsplit("-", 1)[1])


async def test_face_crops_arrive_in_events_and_are_encoded_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded_on: list[threading.Thread] = []
    crop = streamwatch.events.crop.crop_jpeg_base64

    def recording_crop(*args: Any, **kwargs: Any) -> str | None:
        encoded_on.append(threading.current_thread())
        return crop(*args, **kwargs)

    monkeypatch.setattr(streamwatch.events.crop, "crop_jpeg_base64", recording_crop)
    async with _running(_settings(crop=True, crop_max_bytes=20_000), STAYING) as (_, events):
        arrival = await _next(events, *ARRIVALS)
    jpeg = base64.b64decode(arrival.data["crop_jpeg_base64"])
    assert 0 < len(jpeg) <= 20_000
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and min(picture.shape[:2]) >= 16
    assert encoded_on and threading.main_thread() not in encoded_on  # the loop's thread
