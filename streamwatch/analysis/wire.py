"""The API's JSON ↔ FaceAnalysis, both ways: the client parses, the emulator serialises.

Every per-face list is checked against `face_count` before it is indexed, so a short or
inconsistent answer is an `AnalysisFormatError` naming the field, never an IndexError.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

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

API_LANDMARK_COUNT = 105
API_DENSE_FEATURE_LENGTH = 1024
QUALITY_FIELDS = ("score", "blur", "fnf", "glass", "illu", "mask", "noise", "pose")
# Per-face list fields of `data` and how many values each face takes in them.
PER_FACE_FIELDS: dict[str, int] = {
    "face_rectangles": 4,
    "face_probability_list": 1,
    "landmarks": 2 * API_LANDMARK_COUNT,
    "pupils": 6,
    "pose_list": 3,
    "gender_list": 1,
    "age_list": 1,
    "expressions": 1,
    "beauty_list": 1,
    "hat_list": 1,
    "glasses": 1,
    "masks": 1,
}
KNOWN_FIELDS = {"face_count", "landmark_count", "dense_feature_length", "qualities"} | set(
    PER_FACE_FIELDS
)
# The emulator names here the fields its local analyzer could not estimate; their values in
# the answer are placeholders of the right type, and the parser turns them back into None.
UNESTIMATED_FIELD = "x_streamwatch_unestimated"

T = TypeVar("T")


class AnalysisFormatError(ValueError):
    """The API answered 200 but its `data` does not follow the contract."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"malformed analysis: field {field!r}: {problem}")
        self.field = field


def parse_data(
    data: Mapping[str, Any],
    *,
    image_width_px: int,
    image_height_px: int,
    analyzer: str,
    request_id: str | None = None,
) -> FaceAnalysis:
    """Turn the API's `data` object into a FaceAnalysis (coordinates as sent).

    Total: whatever `data` holds, the result is a FaceAnalysis or an AnalysisFormatError.
    """
    if not isinstance(data, Mapping):
        raise AnalysisFormatError("data", f"expected an object, got {type(data).__name__}")
    face_count = _integer(data, "face_count")
    if face_count < 0:
        raise AnalysisFormatError("face_count", f"negative ({face_count})")
    unestimated = _unestimated(data)
    landmark_count = _optional_integer(data, "landmark_count")
    dense_feature_length = _optional_integer(data, "dense_feature_length")
    widths = dict(PER_FACE_FIELDS)
    if landmark_count is not None:
        # The contract says 105; a service that says otherwise is believed, consistently.
        if landmark_count < 0:
            raise AnalysisFormatError("landmark_count", f"negative ({landmark_count})")
        widths["landmarks"] = 2 * landmark_count
    per_face = {
        name: _per_face_list(data, name, width, face_count, unestimated)
        for name, width in widths.items()
    }
    qualities = _qualities(data, face_count, unestimated)

    faces = []
    for i in range(face_count):

        def values(name: str, i: int = i) -> list[float] | None:
            chunk = per_face[name]
            width = widths[name]
            return None if chunk is None else chunk[i * width : (i + 1) * width]

        def single(name: str, cast: Callable[[float], T], i: int = i) -> T | None:
            chunk = values(name, i)
            if chunk is None:
                return None
            try:
                return cast(chunk[0])
            except ValueError:
                raise AnalysisFormatError(name, f"value {chunk[0]!r} is out of range") from None

        rect = values("face_rectangles")
        if rect is None:
            raise AnalysisFormatError("face_rectangles", "missing")
        landmarks = values("landmarks") or []
        pupils = values("pupils")
        pose = values("pose_list")
        faces.append(
            Face(
                box_px=Box(*rect),
                probability=single("face_probability_list", float) or 0.0,
                landmarks_px=tuple(
                    Point(landmarks[j], landmarks[j + 1]) for j in range(0, len(landmarks), 2)
                ),
                pupils_px=None if pupils is None else (Pupil(*pupils[:3]), Pupil(*pupils[3:])),
                pose=None if pose is None else Pose(*pose),
                gender=single("gender_list", lambda v: Gender(_whole(v))),
                age=single("age_list", _whole),
                expression=single("expressions", lambda v: Expression(_whole(v))),
                beauty=single("beauty_list", float),
                hat=single("hat_list", _flag),
                glasses=single("glasses", lambda v: Glasses(_whole(v))),
                mask=single("masks", lambda v: Mask(_whole(v))),
                qualities=Qualities(**{k: v[i] if v else None for k, v in qualities.items()}),
            )
        )
    extra = {k: v for k, v in data.items() if k not in KNOWN_FIELDS}
    return FaceAnalysis(
        faces=tuple(faces),
        image_width_px=image_width_px,
        image_height_px=image_height_px,
        analyzer=analyzer,
        request_id=request_id,
        landmark_count=landmark_count,
        dense_feature_length=dense_feature_length,
        extra=MappingProxyType(extra),
    )


def to_data(analysis: FaceAnalysis) -> dict[str, Any]:
    """The API's `data` object for an analysis, with placeholders for unknown fields.

    A field is placeholder-filled and listed under UNESTIMATED_FIELD when any face lacks it,
    so that the answer has the exact shape of the contract yet claims nothing it did not see.
    """
    faces = analysis.faces
    unestimated: list[str] = []

    def column(name: str, get: Callable[[Face], Sequence[float] | None], width: int) -> list[Any]:
        rows = [get(face) for face in faces]
        if any(row is None or len(row) != width for row in rows):
            unestimated.append(name)
            return [0] * (width * len(faces))
        return [value for row in rows if row is not None for value in row]

    def scalar(name: str, get: Callable[[Face], float | None]) -> list[Any]:
        return column(name, lambda f: None if get(f) is None else [get(f)], 1)  # type: ignore[list-item]

    data: dict[str, Any] = {
        "face_count": len(faces),
        "face_rectangles": [round(v) for f in faces for v in f.box_px.as_ints()],
        "face_probability_list": [round(f.probability, 4) for f in faces],
        "landmark_count": API_LANDMARK_COUNT,
        "landmarks": column(
            "landmarks",
            lambda f: [c for p in f.landmarks_px for c in (p.x, p.y)],
            2 * API_LANDMARK_COUNT,
        ),
        "pupils": column(
            "pupils",
            lambda f: (
                None
                if f.pupils_px is None
                else [c for p in f.pupils_px for c in (p.x, p.y, p.radius)]
            ),
            6,
        ),
        "pose_list": column(
            "pose_list",
            lambda f: (
                None if f.pose is None else [f.pose.yaw_deg, f.pose.pitch_deg, f.pose.roll_deg]
            ),
            3,
        ),
        "gender_list": scalar("gender_list", lambda f: f.gender),
        "age_list": scalar("age_list", lambda f: f.age),
        "expressions": scalar("expressions", lambda f: f.expression),
        "beauty_list": scalar("beauty_list", lambda f: f.beauty),
        "hat_list": scalar("hat_list", lambda f: None if f.hat is None else int(f.hat)),
        "glasses": scalar("glasses", lambda f: f.glasses),
        "masks": scalar("masks", lambda f: f.mask),
        "dense_feature_length": API_DENSE_FEATURE_LENGTH,
        "qualities": {
            f"{name}_list": scalar(f"qualities.{name}_list", _quality_getter(name))
            for name in QUALITY_FIELDS
        },
    }
    for name in ("gender_list", "age_list", "expressions", "hat_list", "glasses", "masks"):
        data[name] = [int(v) for v in data[name]]
    if unestimated:
        data[UNESTIMATED_FIELD] = unestimated
    return data


def _quality_getter(name: str) -> Callable[[Face], float | None]:
    def get(face: Face) -> float | None:
        value: float | None = getattr(face.qualities, name)
        return value

    return get


def _show(value: Any, limit: int = 60) -> str:
    """A short repr for an error message, whatever the value (huge, nested, odd)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _integer(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not value.is_integer())
    ):
        raise AnalysisFormatError(name, f"expected an integer, got {_show(value)}")
    return int(value)


def _optional_integer(data: Mapping[str, Any], name: str) -> int | None:
    return None if data.get(name) is None else _integer(data, name)


def _whole(value: float) -> int:
    """An integer-valued number as an int; ValueError for 0.5 (the caller names the field)."""
    if not value.is_integer():
        raise ValueError(value)
    return int(value)


def _flag(value: float) -> bool:
    if value not in (0, 1):
        raise ValueError(value)
    return bool(value)


def _unestimated(data: Mapping[str, Any]) -> set[str]:
    names = data.get(UNESTIMATED_FIELD, [])
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise AnalysisFormatError(UNESTIMATED_FIELD, "expected a list of field names")
    return set(names)


def _per_face_list(
    data: Mapping[str, Any], name: str, width: int, face_count: int, unestimated: set[str]
) -> list[float] | None:
    if name in unestimated or (name not in data and name != "face_rectangles"):
        return None
    return _number_list(data.get(name), name, width * face_count)


def _qualities(
    data: Mapping[str, Any], face_count: int, unestimated: set[str]
) -> dict[str, list[float] | None]:
    block = data.get("qualities", {})
    if not isinstance(block, Mapping):
        raise AnalysisFormatError("qualities", f"expected an object, got {type(block).__name__}")
    return {
        name: None
        if f"qualities.{name}_list" in unestimated or f"{name}_list" not in block
        else _number_list(block[f"{name}_list"], f"qualities.{name}_list", face_count)
        for name in QUALITY_FIELDS
    }


def _number_list(value: Any, name: str, expected_length: int) -> list[float]:
    if not isinstance(value, list):
        raise AnalysisFormatError(name, f"expected a list, got {type(value).__name__}")
    if len(value) != expected_length:
        raise AnalysisFormatError(
            name, f"has {len(value)} values, face_count implies {expected_length}"
        )
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise AnalysisFormatError(name, "contains a value that is not a number")
    try:
        numbers = [float(v) for v in value]
    except OverflowError:  # an int beyond float's range
        raise AnalysisFormatError(name, "contains a number out of range") from None
    if not all(math.isfinite(v) for v in numbers):
        raise AnalysisFormatError(name, "contains NaN or an infinity")
    return numbers
