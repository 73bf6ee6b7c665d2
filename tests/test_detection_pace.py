"""The face detector's pace: full rate while anything may change, slower while faces sit still.

On main the detector ran at detect_fps whatever was in view: eight cameras of people standing
still cost as much detection as eight of people walking in (bench/pipeline_scale.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from streamwatch.analysis.model import Box, Face, Mask
from streamwatch.app.reports import GateDecision
from streamwatch.capture import Frame
from streamwatch.config import SelectionSettings, Settings
from streamwatch.replay.run import Replayed, ReplayOptions, play
from streamwatch.selection import CallPolicy, GatedFace
from streamwatch.selection.pace import STILL_DETECTIONS, DetectionPace

from .support.clips import still_clip

SETTINGS = SelectionSettings(detect_fps=5.0, still_detect_fps=2.0, window_s=0.5)
FULL_S, STILL_S = 1 / 5.0, 1 / 2.0
STILL_FACE = "images/faces/alex-lacamoire.png"


def _box(left: float, size: float = 100.0) -> Box:
    return Box(left, 100.0, size, size)


def _settle(pace: DetectionPace, boxes: dict[str, Box]) -> None:
    for _ in range(STILL_DETECTIONS + 1):
        pace.observe(boxes, at_rest=True)


def test_still_faces_at_rest_slow_the_detector_and_any_change_brings_full_rate_back() -> None:
    pace = DetectionPace(SETTINGS)
    assert pace.interval_s() == FULL_S
    boxes = {"a": _box(100), "b": _box(400)}
    for _ in range(STILL_DETECTIONS):  # the first detection has nothing to compare with
        pace.observe(boxes, at_rest=True)
        assert pace.interval_s() == FULL_S
    pace.observe({"a": _box(103), "b": _box(401)}, at_rest=True)  # breathing, talking
    assert pace.interval_s() == STILL_S

    changes = {
        "a face moved": ({"a": _box(120), "b": _box(401)}, True),
        "a face came closer": ({"a": _box(100, 115), "b": _box(401)}, True),
        "a face came": ({"a": _box(100), "b": _box(401), "c": _box(700)}, True),
        "a face went": ({"a": _box(100)}, True),
        "the policy waits for something": ({"a": _box(100), "b": _box(401)}, False),
        "nobody in view": ({}, True),
    }
    for change, (changed_boxes, at_rest) in changes.items():
        _settle(pace, boxes)
        assert pace.interval_s() == STILL_S
        pace.observe(changed_boxes, at_rest=at_rest)
        assert pace.interval_s() == FULL_S, change


def test_at_full_rate_when_still_detect_fps_is_detect_fps() -> None:
    pace = DetectionPace(SelectionSettings(detect_fps=5.0, still_detect_fps=5.0))
    _settle(pace, {"a": _box(100)})
    assert pace.interval_s() == FULL_S


def _gated(track_id: str, mask: Mask | None = None) -> GatedFace:
    face = Face(box_px=_box(100), probability=0.9, mask=mask)
    return GatedFace(track_id, face, sharpness=100.0, relative_sharpness=1.2)


def _frame(sequence: int) -> Frame:
    return Frame("cam", sequence, 1e9 + sequence * 0.2, sequence * 0.2, np.zeros((8, 8, 3)))


def test_a_face_is_at_rest_once_called_settled_and_its_mask_reading_steady() -> None:
    policy = CallPolicy(SETTINGS)
    assert not policy.at_rest(["a"])  # never seen
    sequence = 0
    candidate = None
    while candidate is None:
        sequence += 1
        assert not policy.at_rest(["a"])  # waiting for its first call
        candidate = policy.consider(_frame(sequence), [_gated("a", Mask.NONE)])
    policy.sent(candidate)
    policy.answered("a", Mask.NONE)
    assert not policy.at_rest(["a"])  # called, not yet settled
    policy.decided("a")
    assert policy.at_rest(["a"])
    # The gate starts reading a mask: a change is being confirmed, full rate until it is.
    policy.consider(_frame(sequence + 1), [_gated("a", Mask.WORN)])
    assert not policy.at_rest(["a"])
    policy.consider(_frame(sequence + 2), [_gated("a", Mask.NONE)])
    assert policy.at_rest(["a"])
    assert not policy.at_rest(["a", "b"])  # one face still pending is enough


async def test_a_face_standing_still_is_detected_less_often_and_alerted_the_same(
    media_image: Callable[[str], np.ndarray], tmp_path: Path
) -> None:
    # A visitor in front of a kiosk: one real face, still, for 12 s (a still picture as video).
    picture = cv2.resize(media_image(STILL_FACE), (640, 360))
    clip = still_clip(tmp_path / "still.avi", picture, seconds=12)

    async def replayed(still_detect_fps: float) -> Replayed:
        settings = Settings(
            selection=SelectionSettings(detect_fps=5.0, still_detect_fps=still_detect_fps)
        )
        return await play(
            ReplayOptions(str(clip), settings, report_dir=tmp_path / f"at-{still_detect_fps}")
        )

    full, paced = await replayed(5.0), await replayed(2.0)

    def detections(replay: Replayed) -> int:
        return sum(
            frame.decision not in (GateDecision.STILL, GateDecision.RATE) for frame in replay.frames
        )

    assert detections(full) >= 0.8 * 12 * 5  # ~5 a second (frame times fall near the due time)
    # Full rate until the face is called, settled and seen still (~1 s), then 2 a second.
    assert detections(paced) <= 0.6 * detections(full)
    assert [(e.kind, e.media_s) for e in paced.events] == [(e.kind, e.media_s) for e in full.events]
    assert {e.kind for e in paced.events} >= {"face.new"}
