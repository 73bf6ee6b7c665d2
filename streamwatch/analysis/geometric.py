"""A deterministic stand-in analyzer for tests, demos and benchmarks: "faces" are magenta marks.

Every saturated magenta region of the image is a face; its box comes from the region's
intensity-weighted moments (centre from the first moments, size from the second), which
survive resizing with pixel-area averaging and JPEG compression almost exactly. So its answer
is scale-equivariant: the boxes it finds in a downscaled copy, scaled back, are the boxes it
finds at full size to a fraction of a pixel — what a test of the client's coordinate mapping
needs, and what no real detector gives. Every field of the contract is filled: landmarks,
pupils and pose are laid out from the box, the attributes are the constructor's constants.

It is cheap (a few ms on a 1080p frame), so an emulator built on it measures the client and
the HTTP path rather than a face detector.
"""

from __future__ import annotations

import asyncio
import math

import cv2
import numpy as np

from streamwatch.analysis.analyzer import AnalyzerError
from streamwatch.analysis.model import (
    Box,
    Expression,
    Face,
    FaceAnalysis,
    Gender,
    Glasses,
    Mask,
    Point,
    Pose,
    Pupil,
    Qualities,
)

MARK_BGR = (255, 0, 255)  # magenta: far from grey, skin and most scenes in chroma
# Regions smaller than this (pixels of a thresholded weight) are noise, not marks.
MIN_MARK_AREA_PX = 16
# The weighted moments are taken over the region grown by this much, so that the soft edge a
# resize or JPEG leaves around a mark is counted whole.
EDGE_MARGIN_PX = 6
LANDMARK_GROUPS = (("eyebrows", 24), ("eyes", 32), ("nose", 6), ("mouth", 34), ("contour", 9))


def draw_mark(image: np.ndarray, box: Box) -> None:
    """Paint a face mark: a filled magenta rectangle covering `box` (whole pixels)."""
    left, top = round(box.left), round(box.top)
    right, bottom = round(box.right) - 1, round(box.bottom) - 1
    cv2.rectangle(image, (left, top), (right, bottom), MARK_BGR, thickness=cv2.FILLED)


def mark_weights(image: np.ndarray) -> np.ndarray:
    """Per pixel, how magenta it is, 0-255: 255 for MARK_BGR, 0 for any grey, linear between
    ((red + blue) / 2 - green, saturated). Integer OpenCV arithmetic: a few ms for 1080p."""
    blue, green, red = cv2.split(image)
    purple = cv2.addWeighted(red, 0.5, blue, 0.5, 0.0)
    weights: np.ndarray = cv2.subtract(purple, green)
    return weights


class GeometricAnalyzer:
    """Analyzer protocol; see the module's docstring."""

    name = "geometric"

    def __init__(
        self,
        *,
        gender: Gender = Gender.FEMALE,
        age: int = 30,
        expression: Expression = Expression.NEUTRAL,
        beauty: float = 50.0,
        hat: bool = False,
        glasses: Glasses = Glasses.NONE,
        mask: Mask = Mask.NONE,
        quality: float = 90.0,
    ) -> None:
        self._attributes = {
            "gender": gender,
            "age": age,
            "expression": expression,
            "beauty": beauty,
            "hat": hat,
            "glasses": glasses,
            "mask": mask,
            "qualities": Qualities(*(quality,) * 8),
        }

    async def __aenter__(self) -> GeometricAnalyzer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def analyze(self, image: np.ndarray) -> FaceAnalysis:
        return await asyncio.to_thread(self.analyze_sync, image)

    def analyze_sync(self, image: np.ndarray) -> FaceAnalysis:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise AnalyzerError(
                f"not an 8-bit BGR image: shape {image.shape}, dtype {image.dtype}",
                reason="bad_image",
                retryable=False,
            )
        height_px, width_px = image.shape[:2]
        weights = mark_weights(image)
        _, regions = cv2.threshold(weights, 127, 1, cv2.THRESH_BINARY)
        count, _, stats, _ = cv2.connectedComponentsWithStats(regions, connectivity=8)
        faces = []
        for index in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[index])
            if area < MIN_MARK_AREA_PX:
                continue
            x0, y0 = max(0, x - EDGE_MARGIN_PX), max(0, y - EDGE_MARGIN_PX)
            x1 = min(width_px, x + w + EDGE_MARGIN_PX)
            y1 = min(height_px, y + h + EDGE_MARGIN_PX)
            box = _moment_box(weights[y0:y1, x0:x1], x0, y0)
            if box is not None:
                mean = float(weights[y : y + h, x : x + w].mean()) / 255
                faces.append(self._face(box, mean))
        faces.sort(key=lambda face: (face.box_px.left, face.box_px.top))
        return FaceAnalysis(
            faces=tuple(faces),
            image_width_px=width_px,
            image_height_px=height_px,
            analyzer=self.name,
        )

    def _face(self, box: Box, probability: float) -> Face:
        return Face(
            box_px=box,
            probability=round(min(1.0, probability), 4),
            landmarks_px=_landmarks(box),
            pupils_px=(
                Pupil(box.left + 0.32 * box.width, box.top + 0.4 * box.height, 0.04 * box.width),
                Pupil(box.left + 0.68 * box.width, box.top + 0.4 * box.height, 0.04 * box.width),
            ),
            pose=Pose(0.0, 0.0, 0.0),
            **self._attributes,  # type: ignore[arg-type]
        )


def _moment_box(weights: np.ndarray, x0: int, y0: int) -> Box | None:
    """The rectangle with the window's weighted centre and spread, in continuous coordinates
    (pixel j spans [j, j + 1)), offset by (x0, y0)."""
    moments = cv2.moments(weights)
    mass = moments["m00"]
    if mass <= 0:
        return None
    # A uniform rectangle of width W has variance W²/12; each pixel, a unit box, adds 1/12.
    width = math.sqrt(max(0.0, 12 * moments["mu20"] / mass + 1))
    height = math.sqrt(max(0.0, 12 * moments["mu02"] / mass + 1))
    centre_x = x0 + moments["m10"] / mass + 0.5
    centre_y = y0 + moments["m01"] / mass + 0.5
    return Box(centre_x - width / 2, centre_y - height / 2, width, height)


def _landmarks(box: Box) -> tuple[Point, ...]:
    """105 points in the contract's group order, laid out on the box like a schematic face."""
    points: list[Point] = []

    def arc(n: int, cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> None:
        for i in range(n):
            angle = start + (end - start) * (i / max(1, n - 1))
            points.append(
                Point(
                    box.left + box.width * (cx + rx * math.cos(angle)),
                    box.top + box.height * (cy + ry * math.sin(angle)),
                )
            )

    for cx in (0.3, 0.7):  # eyebrows: 12 each
        arc(12, cx, 0.33, 0.13, 0.05, math.pi, 2 * math.pi)
    for cx in (0.32, 0.68):  # eyes: 16 each, closed loops
        arc(16, cx, 0.4, 0.09, 0.04, 0, 2 * math.pi * 15 / 16)
    arc(6, 0.5, 0.5, 0.0, 0.12, -math.pi / 2, math.pi / 2)  # nose: a vertical line
    arc(18, 0.5, 0.75, 0.16, 0.05, 0, 2 * math.pi * 17 / 18)  # outer lips
    arc(16, 0.5, 0.75, 0.1, 0.025, 0, 2 * math.pi * 15 / 16)  # inner lips
    arc(9, 0.5, 0.5, 0.48, 0.48, 0.1 * math.pi, 0.9 * math.pi)  # contour: jaw line
    assert len(points) == sum(n for _, n in LANDMARK_GROUPS)
    return tuple(points)
