"""YuNet under ONNX Runtime gives the faces OpenCV's FaceDetectorYN gives, on real frames."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from streamwatch.analysis.local.models import YUNET_FILE, ModelFileError, shipped_model_path
from streamwatch.analysis.local.onnx_runtime import session
from streamwatch.analysis.local.yunet import ROW_LENGTH, YUNET_RUNTIME_FILE, YuNet

SCORE_THRESHOLD, NMS_IOU, TOP_K = 0.3, 0.3, 5000
CLIPS = ("classroom_4people.mp4", "asl_5people_sequence.mp4", "entrance_sim.mp4")
FRAMES_PER_CLIP = 8


def frames(media_dir: Path) -> list[np.ndarray]:
    """Frames spread over three clips of several faces, some small."""
    found = []
    for clip in CLIPS:
        capture = cv2.VideoCapture(str(media_dir / "videos" / clip))
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        for index in np.linspace(0, count - 1, FRAMES_PER_CLIP).astype(int):
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
            ok, frame = capture.read()
            assert ok, f"{clip} frame {index}"
            found.append(frame)
        capture.release()
    return found


def inputs(frame: np.ndarray) -> list[np.ndarray]:
    """What the face gate shows YuNet: the frame shrunk to 480 px wide, a region of that (not
    a multiple of YuNet's 32 px stride), and a crop enlarged as a second look's."""
    height, width = frame.shape[:2]
    shrunk = cv2.resize(frame, (480, round(height * 480 / width)))
    region = np.ascontiguousarray(shrunk[37:211, 101:390])
    return [shrunk, region, cv2.resize(frame[: height // 2, : width // 3], (320, 240))]


def by_score(rows: np.ndarray) -> np.ndarray:
    return rows[np.argsort(-rows[:, 14], kind="stable")]


def test_the_rows_are_opencvs_on_real_frames(media_dir: Path) -> None:
    ours = YuNet(SCORE_THRESHOLD, NMS_IOU, TOP_K)
    opencv = cv2.FaceDetectorYN.create(
        str(shipped_model_path(YUNET_FILE)), "", (320, 320), SCORE_THRESHOLD, NMS_IOU, TOP_K
    )
    compared = 0
    for frame in frames(media_dir):
        for image in inputs(frame):
            opencv.setInputSize((image.shape[1], image.shape[0]))
            _, expected = opencv.detect(image)
            expected = np.zeros((0, ROW_LENGTH)) if expected is None else expected
            found = ours.detect(image)
            assert found.shape == expected.shape
            # Boxes and points to a thousandth of a pixel, scores to a millionth.
            np.testing.assert_allclose(by_score(found), by_score(expected), atol=1e-3)
            compared += len(found)
    assert compared >= 40, "the frames must hold faces for the comparison to mean anything"


def test_a_picture_without_a_face_gives_no_rows() -> None:
    grey = np.full((270, 480, 3), 127, np.uint8)
    rows = YuNet(SCORE_THRESHOLD, NMS_IOU, TOP_K).detect(grey)
    assert rows.shape == (0, ROW_LENGTH)


def test_a_file_that_is_not_a_network_is_refused_naming_the_fix(tmp_path: Path) -> None:
    broken = tmp_path / YUNET_RUNTIME_FILE
    broken.write_bytes(b"not an onnx file")
    with pytest.raises(ModelFileError, match=re.escape("make it with training/convert_yunet.py")):
        session(broken, "the face detector", "training/convert_yunet.py")


@pytest.mark.skipif(
    importlib.util.find_spec("onnx") is None, reason="the conversion needs `pip install onnx`"
)
def test_the_shipped_network_is_what_the_conversion_script_makes(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    made = tmp_path / YUNET_RUNTIME_FILE
    subprocess.run(
        [sys.executable, str(root / "training" / "convert_yunet.py"), "--out", str(made)],
        check=True,
        capture_output=True,
    )
    shipped = root / "streamwatch" / "analysis" / "local" / YUNET_RUNTIME_FILE
    assert made.read_bytes() == shipped.read_bytes()
