"""Events on real clips, through the cloud client and the emulator over real HTTP.

Ground truth from ../shared/media/README.md. Where a clip cannot show something on its own
(a long enough maskless stretch, a person leaving and coming back), the test builds the clip
from the clip's own real frames.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from streamwatch.analysis.emulator import serve_emulator
from streamwatch.analysis.imaging import encode_for_api
from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.model import Mask
from streamwatch.app.reports import GateReport
from streamwatch.app.runner import App
from streamwatch.clock import MediaClock
from streamwatch.config import Settings
from streamwatch.events import Event

API_KEY = "clip-test-key"


@asynccontextmanager
async def _emulator() -> AsyncIterator[str]:
    async with LocalAnalyzer() as engine, serve_emulator(engine, api_key=API_KEY) as url:
        yield url


async def _events_of(clip: Path, api_url: str, tmp_path: Path) -> tuple[list[Event], float]:
    """Every event of a clip played once, and the time of its first frame.

    Played as `streamwatch replay` plays it: every frame, on the clip's own clock, as fast as it
    decodes. Played in real time, which frames the gate and the calls see would depend on how
    busy the machine is (a loaded CI box took other frames and the emulator read them
    otherwise); on the clip's clock the test is about the rules, and the same on every run.
    The events are read back from a JSON-lines sink: what a user of the sink would get.
    """
    events_file = tmp_path / f"{clip.stem}.events.jsonl"
    settings = Settings.model_validate(
        {
            "cameras": [{"name": "clip", "source": str(clip), "loop": False, "realtime": False}],
            "analyzer": {"kind": "ailab", "url": api_url, "api_key": API_KEY},
            "sinks": [{"kind": "jsonl", "path": str(events_file)}],
            "overlay": {"web": False},
            "status": {"port": 0},
            "state_dir": str(tmp_path / "state"),
        }
    )
    first_frame_s: list[float] = []

    def note_start(report: GateReport) -> None:
        if not first_frame_s:
            first_frame_s.append(report.frame.timestamp_s)

    fps = cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FPS)
    async with App(settings, media_clock=MediaClock(fps)) as app:
        app.pipelines["clip"].gate_observers.append(note_start)
        await asyncio.wait_for(app.run(asyncio.Event()), timeout=90)
    lines = events_file.read_text().splitlines() if events_file.exists() else []
    return [Event.from_cloudevent(json.loads(line)) for line in lines], first_frame_s[0]


def _kinds(events: list[Event], kind: str) -> list[Event]:
    return [event for event in events if event.kind == kind]


def _read(clip: Path) -> tuple[list[np.ndarray], float]:
    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    return frames, fps


def _write(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """A lossless (FFV1) clip: the frames come back bit for bit, as the test chose them."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"FFV1"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


async def _read_as(mask: Mask, frames: list[np.ndarray]) -> list[np.ndarray]:
    """The frames whose face the on-device analyzer reads with this mask state, both as the
    local gate sees them and as the emulator sees them (after the client's JPEG).

    Its mask estimate flickers on a few of the clip's frames, and JPEG moves some across the
    line; a person standing at a kiosk for seconds gives many frames, and this test is about
    what the rules make of them.
    """
    quality = Settings().analyzer.jpeg_quality
    async with LocalAnalyzer() as analyzer:

        async def reads_as_mask(image: np.ndarray) -> bool:
            analysis = await analyzer.analyze(image)
            return [face.mask for face in analysis.faces] == [mask]

        return [
            frame
            for frame in frames
            if await reads_as_mask(frame) and await reads_as_mask(_jpeg_round_trip(frame, quality))
        ]


def _jpeg_round_trip(frame: np.ndarray, quality: int) -> np.ndarray:
    encoded = encode_for_api(frame, jpeg_quality=quality)
    image = cv2.imdecode(np.frombuffer(encoded.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the JPEG the client would send did not decode"
    return image


def _ping_pong(frames: list[np.ndarray], count: int) -> list[np.ndarray]:
    """`count` frames going back and forth through `frames`: a person standing, moving a bit."""
    cycle = frames + frames[-2:0:-1]
    return [cycle[i % len(cycle)] for i in range(count)]


async def test_each_person_gets_one_face_new(media_dir: Path, tmp_path: Path) -> None:
    # Two people side by side, both in view for the whole clip.
    async with _emulator() as url:
        events, _ = await _events_of(media_dir / "videos" / "head_pose_2people.mp4", url, tmp_path)
    new = _kinds(events, "face.new")
    assert len(new) == 2
    assert len({event.subject for event in new}) == 2
    assert not _kinds(events, "face.returned")


async def test_five_people_in_nine_takes_are_five_new_and_four_returned(
    media_dir: Path, tmp_path: Path
) -> None:
    # asl_5people_sequence: P1-P5, then P1-P4 again, hard cuts between takes.
    async with _emulator() as url:
        events, _ = await _events_of(
            media_dir / "videos" / "asl_5people_sequence.mp4", url, tmp_path
        )
    assert len(_kinds(events, "face.new")) == 5
    returned = _kinds(events, "face.returned")
    # P3's second take shows a face of about 63-64 px, right at the API's minimum: on some
    # runs no frame of it is fit for a call, and that take goes unannounced. Never a 6th new.
    assert 3 <= len(returned) <= 4
    # Each return is recognised as someone seen before. (Which one, on faces this small, is
    # right most of the time, not always: SFace at ~65 px confuses look-alikes now and then.)
    first_identities = {event.data["identity_id"] for event in _kinds(events, "face.new")}
    assert {event.data["identity_id"] for event in returned} <= first_identities


async def test_one_maskless_after_the_mask_comes_off(media_dir: Path, tmp_path: Path) -> None:
    # mask_on_off: mask on for about 2 s, then off. The maskless stretch is 1 s long; let the
    # man stand maskless for 6 s (his own frames, back and forth), as at a real kiosk. Only
    # the frames of it the analyzer reads as maskless: the others (it reads some of them as
    # worn: issue 16, bench/local_analyzer.py) made the outcome hang on which frames the
    # calls happened to land on, and this test is about the rules.
    frames, fps = _read(media_dir / "videos" / "mask_on_off.mp4")
    mask_off_at = round(2.8 * fps)
    maskless = await _read_as(Mask.NONE, frames[mask_off_at:])
    assert len(maskless) >= 3, "the clip's last second shows him without a mask"
    clip = _write(
        tmp_path / "mask_off.mkv",
        frames[:mask_off_at] + _ping_pong(maskless, round(6 * fps)),
        fps,
    )
    async with _emulator() as url:
        events, start_s = await _events_of(clip, url, tmp_path)
    maskless_events = _kinds(events, "face.maskless")
    assert len(maskless_events) == 1
    assert maskless_events[0].data["frame_timestamp_s"] - start_s >= 2.5
    assert len(_kinds(events, "face.new")) == 1


async def test_a_person_who_leaves_and_comes_back_has_returned(
    media_dir: Path, tmp_path: Path
) -> None:
    # The maskless man stands 3 s, the room is empty for 5 s (more than left_after_s), then
    # he is back for 3 s: one visit, then a return.
    frames, fps = _read(media_dir / "videos" / "mask_on_off.mp4")
    standing = _ping_pong(frames[round(2.8 * fps) : round(3.7 * fps)], round(3 * fps))
    room = cv2.imread(str(media_dir / "images" / "no_face" / "empty_room.jpg"))
    if room is None:
        pytest.skip("images/no_face/empty_room.jpg is missing from the media")
    empty = cv2.resize(room, (frames[0].shape[1], frames[0].shape[0]))
    clip = _write(tmp_path / "return.mkv", standing + [empty] * round(5 * fps) + standing, fps)
    async with _emulator() as url:
        events, _ = await _events_of(clip, url, tmp_path)
    face_events = [e.kind for e in events if e.kind in ("face.new", "face.left", "face.returned")]
    assert face_events == ["face.new", "face.left", "face.returned"]
    new, returned = _kinds(events, "face.new")[0], _kinds(events, "face.returned")[0]
    assert returned.data["identity_id"] == new.data["identity_id"]
    assert returned.data["previous_track_id"] == new.subject


async def test_a_still_scene_without_a_face_makes_no_call(media_dir: Path, tmp_path: Path) -> None:
    # An empty room for 3 s, with a little sensor noise on every frame.
    room = cv2.imread(str(media_dir / "images" / "no_face" / "empty_room.jpg"))
    if room is None:
        pytest.skip("images/no_face/empty_room.jpg is missing from the media")
    rng = np.random.default_rng(3)
    frames = [
        np.clip(room + rng.normal(0, 2, room.shape), 0, 255).astype(np.uint8) for _ in range(30)
    ]
    clip = _write(tmp_path / "room.mkv", frames, 10.0)
    settings = Settings.model_validate(
        {
            "cameras": [{"name": "room", "source": str(clip), "loop": False}],
            "sinks": [],
            "overlay": {"web": False},
            "status": {"port": 0},
        }
    )
    async with App(settings) as app:
        await asyncio.wait_for(app.run(asyncio.Event()), timeout=60)
        counters = app.pipelines["room"].counters
    assert counters.frames_seen >= 25
    assert counters.calls_made == 0
    # The motion gate stopped nearly every frame before the face detector.
    assert counters.dropped_motion >= counters.frames_seen - 2
