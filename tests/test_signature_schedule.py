"""Appearance signatures once per track, again only when its face changed (issue 19).

On main every analysis of every face ran SFace (~15 ms of CPU under load at 8 cameras), though
the rules only read a track's signature when it is announced and when it leaves: a visitor
standing at a kiosk cost one signature per call (up to max_calls_per_track).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from streamwatch.analysis.local.signature import SignatureModel
from streamwatch.analysis.model import Box, Face, FaceAnalysis, Pose, Signature
from streamwatch.config import SelectionSettings, Settings
from streamwatch.config.model import TrackingSettings
from streamwatch.replay.run import ReplayOptions, play
from streamwatch.tracking.signature_schedule import RESIZE_FACTOR, TURN_DEG, SignatureSchedule
from streamwatch.tracking.track import FrameTime
from streamwatch.tracking.tracker import Tracker

from .support.clips import still_clip

STILL_FACE = "images/faces/alex-lacamoire.png"
REFRESH_S = 10.0


def _face(size: float = 100.0, yaw_deg: float | None = 0.0, left: float = 100.0) -> Face:
    pose = None if yaw_deg is None else Pose(yaw_deg, 0.0, 0.0)
    return Face(box_px=Box(left, 100.0, size, size), probability=0.9, pose=pose)


def test_a_track_is_due_a_signature_first_and_then_only_when_its_face_changed() -> None:
    schedule = SignatureSchedule(REFRESH_S)
    assert schedule.due("a", _face(), 0.0)
    schedule.taken("a", _face(), 0.0)
    # The same face, a little bigger, a little turned, a while later: the one it has stands.
    assert not schedule.due("a", _face(size=120, yaw_deg=TURN_DEG / 2, left=300), 5.0)
    assert schedule.due("b", _face(), 5.0)  # another track
    assert schedule.due("a", _face(size=100 * RESIZE_FACTOR), 5.0)  # came nearer
    assert schedule.due("a", _face(size=100 / RESIZE_FACTOR - 1), 5.0)  # stepped back
    assert schedule.due("a", _face(yaw_deg=-TURN_DEG), 5.0)  # turned its head
    assert schedule.due("a", _face(), REFRESH_S)  # the signature got old
    schedule.taken("a", _face(size=150, yaw_deg=None), 6.0)
    assert schedule.due("a", _face(size=150), 7.0)  # a pose now where none was known
    schedule.forget("a")
    assert schedule.due("a", _face(size=150, yaw_deg=None), 7.0)


def test_an_analysis_without_a_signature_leaves_the_track_its_last_one() -> None:
    tracker = Tracker("cam", TrackingSettings())
    signature = Signature((1.0, 0.0), "sface")
    at = FrameTime(0.0, 1000.0)
    tracker.observe([_face()], at)
    first = tracker.attach(FaceAnalysis((_signed(_face(), signature),), 640, 480, "local"), at)
    assert first.analysed[0].face.signature == signature
    later = FrameTime(1.0, 1001.0)
    tracker.observe([_face()], later)
    second = tracker.attach(FaceAnalysis((_face(),), 640, 480, "local"), later)
    assert second.analysed[0].face.signature == signature


def _signed(face: Face, signature: Signature) -> Face:
    return Face(face.box_px, face.probability, pose=face.pose, signature=signature)


@pytest.fixture
def sface_runs(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """How many times the SFace network ran."""
    runs: collections.Counter[str] = collections.Counter()
    signature = SignatureModel.signature

    def counted(self: SignatureModel, chip: np.ndarray) -> Signature:
        runs["sface"] += 1
        return signature(self, chip)

    monkeypatch.setattr(SignatureModel, "signature", counted)
    return runs


async def test_a_face_standing_still_gets_one_signature_however_often_it_is_called(
    media_image: Callable[[str], np.ndarray],
    tmp_path: Path,
    sface_runs: collections.Counter[str],
) -> None:
    # A visitor at a kiosk: one real face, still, for 8 s, called every second (refresh_s)
    # through the real App with the local analyzer; signatures refresh every 10 s.
    picture = cv2.resize(media_image(STILL_FACE), (640, 360))
    clip = still_clip(tmp_path / "still.avi", picture, seconds=8)
    settings = Settings(
        selection=SelectionSettings(refresh_s=1.0, max_calls_per_track=6),
        tracking=TrackingSettings(signature_refresh_s=REFRESH_S),
    )

    replay = await play(ReplayOptions(str(clip), settings, report_dir=tmp_path / "report"))

    assert replay.counters.calls_made >= 4, replay.counters  # main: as many signatures
    assert sface_runs["sface"] == 1
    assert replay.counters.signatures == 1
    assert [e.kind for e in replay.events if e.kind.startswith("face.new")] == ["face.new"]
