"""A face small in YuNet's shrunk input is looked at again at full size (detector.py).

entrance_sim's masked visitor stands with a 69-73 px face in a 720p frame (YuNet at full size);
shrunk to 480 px wide it is 26 px, and YuNet finds it on few frames, at 48-49 px: too small
for a call, so the visit was never analysed. And a maskless visitor tilting her 90 px head was
found, sure enough, with points a fifth of her face to one side: the mask reader, shown a chip
aligned on them, read her `worn`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from streamwatch.analysis.local import detector
from streamwatch.analysis.local.chip import aligned_chip
from streamwatch.analysis.local.detector import DetectorSize, FaceDetector
from streamwatch.analysis.local.mask_reader import MaskReader
from streamwatch.analysis.model import Mask

ENTRANCE = "videos/entrance_sim.mp4"
VISITOR_S = (91.2, 91.6, 92.0, 92.4, 92.8, 93.2, 93.6)  # the masked visitor in view, still
TILTED_MASKLESS_S = (107.9, 108.5, 108.9, 109.5, 110.0, 110.5, 111.0)
API_MIN_FACE_PX = 64


def _frames(path: Path, at_s: tuple[float, ...]) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    for second in at_s:
        capture.set(cv2.CAP_PROP_POS_FRAMES, round(second * fps))
        ok, frame = capture.read()
        assert ok, f"{path} has no frame at {second} s"
        frames.append(frame)
    capture.release()
    return frames


@pytest.fixture
def visitor_frames(media_dir: Path) -> list[np.ndarray]:
    return _frames(media_dir / ENTRANCE, VISITOR_S)


def test_a_small_face_is_found_and_measured_as_at_full_size(
    visitor_frames: list[np.ndarray],
) -> None:
    gate, full_size = FaceDetector(0.6), FaceDetector(0.6, DetectorSize(width_px=4000))
    for frame in visitor_frames:
        [reference] = full_size.detect(frame)
        [found] = gate.detect(frame)
        assert found.box_px.iou(reference.box_px) > 0.6
        assert found.box_px.size_px == pytest.approx(reference.box_px.size_px, rel=0.1)
        assert found.box_px.size_px >= API_MIN_FACE_PX
    assert gate.second_looks >= len(visitor_frames)


def test_without_the_second_look_the_visitor_is_too_small_or_missed(
    visitor_frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detector, "SECOND_LOOK_BELOW_INPUT_PX", 0.0)
    gate = FaceDetector(0.6)
    sizes = [face.box_px.size_px for frame in visitor_frames for face in gate.detect(frame)]
    assert gate.second_looks == 0
    assert all(size < API_MIN_FACE_PX for size in sizes)
    assert len(sizes) < len(visitor_frames)


def test_a_face_big_in_the_input_gets_no_second_look(media_dir: Path) -> None:
    portrait = cv2.imread(str(media_dir / "images/faces/obama.jpg"))
    assert portrait is not None
    frame = np.full((720, 1280, 3), 60, np.uint8)
    frame[60:660, 600:1200] = cv2.resize(portrait, (600, 600))
    gate = FaceDetector(0.6)
    [face] = gate.detect(frame)
    assert face.box_px.size_px > 2.7 * detector.SECOND_LOOK_BELOW_INPUT_PX  # 1280 -> 480
    assert gate.second_looks == 0


def _mask_readings(gate: FaceDetector, frames: list[np.ndarray]) -> list[Mask]:
    reader = MaskReader()
    readings = []
    for frame in frames:
        [face] = gate.detect(frame)
        readings.append(reader.read(aligned_chip(frame, face.landmarks_px), face.box_px.size_px))
    return [reading.state for reading in readings]


def test_a_small_face_s_points_come_from_its_second_look(
    media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = _frames(media_dir / ENTRANCE, TILTED_MASKLESS_S)
    assert _mask_readings(FaceDetector(0.6), frames).count(Mask.WORN) <= 1

    monkeypatch.setattr(detector, "SECOND_LOOK_BELOW_INPUT_PX", 0.0)
    assert _mask_readings(FaceDetector(0.6), frames).count(Mask.WORN) >= len(frames) - 1
