"""A call on the device describes the faces the gate found in its frame: no second detection.

On main every local analysis ran YuNet again on the frame the gate had just detected (one
detection more a call: ~11 % of the detections of the ASL clip at 8 cameras).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.local.detector import FaceDetector
from streamwatch.analysis.model import Box, Face
from streamwatch.config import Settings
from streamwatch.replay.run import ReplayOptions, play

PORTRAIT = "images/faces/obama.jpg"


async def test_describing_the_gates_faces_is_analysing_the_image(
    media_image: Callable[[str], np.ndarray],
) -> None:
    image = media_image(PORTRAIT)
    async with LocalAnalyzer() as local:
        gate = await local.detect(image)
        described, analysed = await local.describe(image, gate.faces), await local.analyze(image)
    assert len(described.faces) == len(analysed.faces) == 1
    assert described == analysed


@pytest.fixture
def detections(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """How many times YuNet ran."""
    runs: collections.Counter[str] = collections.Counter()
    detect = FaceDetector.detect

    def counted(self: FaceDetector, image: np.ndarray, region: Box | None = None) -> list[Face]:
        runs["yunet"] += 1
        return detect(self, image) if region is None else detect(self, image, region)

    monkeypatch.setattr(FaceDetector, "detect", counted)
    return runs


async def test_a_replay_detects_each_frame_once_however_many_calls(
    media_dir: Path, tmp_path: Path, detections: collections.Counter[str]
) -> None:
    clip = media_dir / "videos" / "asl_5people_sequence.mp4"

    replay = await play(ReplayOptions(str(clip), Settings(), report_dir=tmp_path))

    c = replay.counters
    gate_detections = c.frames_seen - c.dropped_motion - c.dropped_rate
    assert c.calls_made >= 5  # main: as many detections more
    assert detections["yunet"] == gate_detections
