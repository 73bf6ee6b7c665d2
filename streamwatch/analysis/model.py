"""FaceAnalysis: the typed answer of an analyzer, cloud or local.

The shape follows the `data` object of the Face Analyzer Advanced API (see
shared/api/face-analyzer-advanced.md): one `Face` per detected face with every per-face field of
the contract. A field an analyzer cannot estimate is `None`, never a made-up value.
Coordinates are always in pixels of the analysed frame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from types import MappingProxyType
from typing import Any


class Gender(IntEnum):
    FEMALE = 0
    MALE = 1


class Expression(IntEnum):
    NEUTRAL = 0
    SMILE = 1


class Glasses(IntEnum):
    NONE = 0
    REGULAR = 1
    SUNGLASSES = 2


class Mask(IntEnum):
    NONE = 0
    WORN = 1
    INCORRECT = 2


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle in pixels: the API's `[left, top, width, height]`."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def size_px(self) -> float:
        """The side of the square of the same area: one number for "how big is this face".

        Detectors draw face boxes taller than wide (YuNet: ~65x84 px for a face the API
        calls 64x64-analysable); the geometric mean judges both fairly.
        """
        return math.sqrt(max(self.width, 0.0) * max(self.height, 0.0))

    @property
    def center(self) -> tuple[float, float]:
        return (self.left + self.width / 2, self.top + self.height / 2)

    def iou(self, other: Box) -> float:
        """Intersection over union, 0 for disjoint boxes."""
        overlap_w = min(self.right, other.right) - max(self.left, other.left)
        overlap_h = min(self.bottom, other.bottom) - max(self.top, other.top)
        if overlap_w <= 0 or overlap_h <= 0:
            return 0.0
        overlap = overlap_w * overlap_h
        return overlap / (self.area + other.area - overlap)

    def scaled(self, factor: float) -> Box:
        return Box(self.left * factor, self.top * factor, self.width * factor, self.height * factor)

    def as_ints(self) -> tuple[int, int, int, int]:
        return (round(self.left), round(self.top), round(self.width), round(self.height))


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float

    def scaled(self, factor: float) -> Point:
        return Point(self.x * factor, self.y * factor)


@dataclass(frozen=True, slots=True)
class Pupil:
    x: float
    y: float
    radius: float

    def scaled(self, factor: float) -> Pupil:
        return Pupil(self.x * factor, self.y * factor, self.radius * factor)


@dataclass(frozen=True, slots=True)
class Pose:
    yaw_deg: float
    pitch_deg: float
    roll_deg: float


@dataclass(frozen=True, slots=True)
class Qualities:
    """The API's eight quality scores, each in [0, 100], higher = better; 85 is "good"."""

    score: float | None = None
    blur: float | None = None
    fnf: float | None = None  # face / not face
    glass: float | None = None  # upper-face occlusion
    illu: float | None = None  # lighting
    mask: float | None = None  # lower-face occlusion
    noise: float | None = None
    pose: float | None = None  # frontality


@dataclass(frozen=True, slots=True)
class Signature:
    """An appearance embedding of a face (e.g. SFace, 128 values), for "seen before?".

    It never leaves the device: not in API requests, events or logs.
    """

    values: tuple[float, ...]
    model: str  # which embedding: distances only compare signatures of one model

    def __repr__(self) -> str:
        return f"Signature(model={self.model!r}, dims={len(self.values)})"

    def cosine_distance(self, other: Signature) -> float:
        """0 for the same direction, 1 for orthogonal, 2 for opposite."""
        if other.model != self.model or len(other.values) != len(self.values):
            raise ValueError(f"cannot compare a {self.model} signature with a {other.model} one")
        dot = sum(a * b for a, b in zip(self.values, other.values, strict=True))
        norms = math.sqrt(sum(a * a for a in self.values) * sum(b * b for b in other.values))
        return 1.0 - dot / norms if norms else 1.0


@dataclass(frozen=True, slots=True)
class Face:
    box_px: Box
    probability: float
    # The API gives 105 points; the local analyzer gives its detector's native points.
    landmarks_px: tuple[Point, ...] = ()
    pupils_px: tuple[Pupil, Pupil] | None = None  # (left, right)
    pose: Pose | None = None
    gender: Gender | None = None
    age: int | None = None
    expression: Expression | None = None
    beauty: float | None = None
    hat: bool | None = None
    glasses: Glasses | None = None
    mask: Mask | None = None
    qualities: Qualities = field(default_factory=Qualities)
    signature: Signature | None = None  # local analyzer only; the API returns none
    # Local face gate only: something that is not a mask covers the mouth, a hand mostly
    # (mask_reader.combine); `mask` is then None.
    mouth_covered: bool = False

    def moved(self, dx_px: float, dy_px: float) -> Face:
        """This face with its box, landmarks and pupils shifted by (dx_px, dy_px)."""
        box, pupils = self.box_px, self.pupils_px
        return replace(
            self,
            box_px=Box(box.left + dx_px, box.top + dy_px, box.width, box.height),
            landmarks_px=tuple(Point(p.x + dx_px, p.y + dy_px) for p in self.landmarks_px),
            pupils_px=None
            if pupils is None
            else (
                Pupil(pupils[0].x + dx_px, pupils[0].y + dy_px, pupils[0].radius),
                Pupil(pupils[1].x + dx_px, pupils[1].y + dy_px, pupils[1].radius),
            ),
        )

    def scaled(self, factor: float) -> Face:
        """This face with every coordinate multiplied by `factor` (image → frame pixels)."""
        return replace(
            self,
            box_px=self.box_px.scaled(factor),
            landmarks_px=tuple(p.scaled(factor) for p in self.landmarks_px),
            pupils_px=(
                None
                if self.pupils_px is None
                else (self.pupils_px[0].scaled(factor), self.pupils_px[1].scaled(factor))
            ),
        )


@dataclass(frozen=True, slots=True)
class FaceAnalysis:
    """What an analyzer saw in one frame."""

    faces: tuple[Face, ...]
    image_width_px: int
    image_height_px: int
    analyzer: str  # "local", "ailab", …: who produced it
    request_id: str | None = None
    landmark_count: int | None = None
    dense_feature_length: int | None = None
    # Fields of the API's `data` this version does not know, kept as received.
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def face_count(self) -> int:
        return len(self.faces)

    def scaled(self, factor: float) -> FaceAnalysis:
        return replace(
            self,
            faces=tuple(face.scaled(factor) for face in self.faces),
            image_width_px=round(self.image_width_px * factor),
            image_height_px=round(self.image_height_px * factor),
        )
