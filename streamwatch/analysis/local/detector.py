"""The face gate: YuNet's boxes, scores and five points, on any size of image.

YuNet's cost grows with its input area, so frames are detected at DETECTION_WIDTH_PX wide:
at 480 px a 640x480 frame costs ~8 ms on one core (640 px: ~14 ms), and a face of the API's
64 px minimum is still 48 px there, well inside what YuNet finds. Small images (tight face
crops) are padded and enlarged instead: a face that fills the picture defeats the
detector's anchors, and a face of 40 px sits at the edge of its range.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from streamwatch.analysis.local.models import YUNET_FILE, shipped_model_path
from streamwatch.analysis.model import Box, Face, Point

DETECTION_WIDTH_PX = 480
# Images whose longest side is at most this are crops: padded by SMALL_IMAGE_PADDING of that
# side with mid-grey (a replicated border smears the face's edge into a second "face"), then
# enlarged to this size.
SMALL_IMAGE_PX = 320
SMALL_IMAGE_PADDING = 0.25
PADDING_GREY = (127, 127, 127)
NMS_IOU = 0.3
TOP_K = 5000
MIN_FACE_PX = 8.0


@dataclass(frozen=True, slots=True)
class DetectorInput:
    """The image YuNet sees, and how to map its coordinates back: x = x_in * scale - offset."""

    image: np.ndarray
    scale: float
    offset_px: float


def detector_input(image: np.ndarray, width_px: int = DETECTION_WIDTH_PX) -> DetectorInput:
    height_px, frame_width_px = image.shape[:2]
    longest_px = max(height_px, frame_width_px)
    if longest_px <= SMALL_IMAGE_PX:
        border = round(longest_px * SMALL_IMAGE_PADDING)
        padded = cv2.copyMakeBorder(
            image, border, border, border, border, cv2.BORDER_CONSTANT, value=PADDING_GREY
        )
        factor = SMALL_IMAGE_PX / max(padded.shape[:2])
        size = (round(padded.shape[1] * factor), round(padded.shape[0] * factor))
        return DetectorInput(
            cv2.resize(padded, size, interpolation=cv2.INTER_LINEAR), 1 / factor, border
        )
    if frame_width_px <= width_px:
        return DetectorInput(image, 1.0, 0.0)
    scale = frame_width_px / width_px
    size = (width_px, round(height_px / scale))
    return DetectorInput(cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale, 0.0)


class FaceDetector:
    """YuNet through `cv2.FaceDetectorYN`. Not thread-safe: one caller at a time."""

    def __init__(self, min_probability: float, width_px: int = DETECTION_WIDTH_PX) -> None:
        if not 0.0 < min_probability < 1.0:
            raise ValueError(
                f"min_face_probability must be between 0 and 1 (exclusive), got {min_probability}"
            )
        self._width_px = width_px
        self._net = cv2.FaceDetectorYN.create(
            str(shipped_model_path(YUNET_FILE)),
            "",
            (width_px, width_px),
            min_probability,
            NMS_IOU,
            TOP_K,
        )

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces with box, probability and YuNet's five points, in `image` pixels."""
        prepared = detector_input(image, self._width_px)
        self._net.setInputSize((prepared.image.shape[1], prepared.image.shape[0]))
        _, rows = self._net.detect(prepared.image)
        faces = [_face(row, prepared) for row in (rows if rows is not None else ())]
        return [face for face in faces if min(face.box_px.width, face.box_px.height) >= MIN_FACE_PX]


def _face(row: np.ndarray, prepared: DetectorInput) -> Face:
    # A YuNet row: box (x, y, w, h); right eye, left eye, nose tip, right and left mouth
    # corners (the subject's right and left: image left first); score.
    values = row[:14].astype(np.float64) * prepared.scale
    xs = values[0::2] - prepared.offset_px
    ys = values[1::2] - prepared.offset_px
    box = Box(float(xs[0]), float(ys[0]), float(values[2]), float(values[3]))
    points = tuple(Point(float(x), float(y)) for x, y in zip(xs[2:], ys[2:], strict=True))
    return Face(box_px=box, probability=float(row[14]), landmarks_px=points)
