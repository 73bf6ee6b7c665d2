"""Small overlay values for tests: frames, tracks, scenes and events."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from streamwatch.analysis.fallback import AnalysisState
from streamwatch.analysis.model import Box, Face, Gender, Glasses, Mask, Point, Pupil
from streamwatch.capture.frame import Frame
from streamwatch.events.model import Event
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.scene import Scene
from streamwatch.tracking.track import Track

FRAME_TIME_S = 1000.0  # wall clock of every test frame
FRAME_MONOTONIC_S = 50.0


def make_frame(
    camera: str = "cam",
    sequence: int = 1,
    *,
    width_px: int = 640,
    height_px: int = 360,
    image: np.ndarray | None = None,
    timestamp_s: float = FRAME_TIME_S,
    monotonic_s: float = FRAME_MONOTONIC_S,
) -> Frame:
    if image is None:
        image = np.full((height_px, width_px, 3), 64, dtype=np.uint8)
    image.setflags(write=False)
    return Frame(camera, sequence, timestamp_s, monotonic_s, image)


def make_track(
    mask: Mask | None,
    *,
    box: Box | None = None,
    camera: str = "cam",
    velocity_px_s: tuple[float, float] = (0.0, 0.0),
    last_seen_s: float = FRAME_MONOTONIC_S,
) -> Track:
    face = Face(
        box_px=box or Box(200, 100, 120, 160),
        probability=0.99,
        landmarks_px=(Point(240, 160), Point(280, 160)),
        pupils_px=(Pupil(240, 150, 4), Pupil(280, 150, 4)),
        gender=Gender.FEMALE,
        age=34,
        glasses=Glasses.NONE,
        mask=mask,
    )
    return Track(
        f"{camera}-1",
        camera,
        face,
        first_seen_s=FRAME_MONOTONIC_S - 10,
        last_seen_s=last_seen_s,
        last_seen_wall_s=FRAME_TIME_S + (last_seen_s - FRAME_MONOTONIC_S),
        analyses=3,
        velocity_px_s=velocity_px_s,
    )


def make_scene(
    frame: Frame | None = None,
    *,
    tracks: tuple[Track, ...] = (),
    events: tuple[Event, ...] = (),
    analysis_lag_s: float | None = 0.0,  # None: no frame dealt with yet
) -> Scene:
    frame = frame or make_frame()
    return Scene(
        frame=frame,
        tracks=tracks,
        recent_events=events,
        fps_in=25.0,
        analysed_up_to_monotonic_s=None
        if analysis_lag_s is None
        else frame.monotonic_s - analysis_lag_s,
    )


def make_event(
    camera: str = "cam", kind: str = "face.maskless", *, time_s: float = FRAME_TIME_S
) -> Event:
    return Event.create(
        kind,
        node="test",
        camera=camera,
        subject=f"{camera}-1",
        data={"n": 1},
        time=datetime.fromtimestamp(time_s, UTC),
    )


async def live_camera(
    board: SceneBoard,
    camera: str,
    picture: np.ndarray,
    face: Box,
    *,
    mask: Mask | None = Mask.NONE,
    events: Sequence[Event] = (),
    analysis: AnalysisState | None = None,
    fps: float = 15.0,
) -> None:
    """A camera publishing `picture` at `fps` until cancelled: its face tracked with `mask`,
    `events` as its recent events (a list may grow meanwhile), analysed as `analysis` says."""
    for sequence in itertools.count(1):
        now_s, now_monotonic_s = time.time(), time.monotonic()
        track = make_track(mask, box=face, camera=camera, last_seen_s=now_monotonic_s)
        frame = make_frame(
            camera, sequence, image=picture.copy(), timestamp_s=now_s, monotonic_s=now_monotonic_s
        )
        scene = make_scene(frame, tracks=(track,), events=tuple(events))
        board.publish(replace(scene, analysis=analysis))
        await asyncio.sleep(1 / fps)  # the camera's pace, not a synchronisation
