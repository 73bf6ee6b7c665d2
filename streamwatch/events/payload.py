"""The `data` of face events: the face as the analysis described it, JSON-ready."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streamwatch.analysis.model import Face
from streamwatch.tracking.track import Track


def face_payload(face: Face) -> dict[str, Any]:
    """The face's box, probability and every attribute the analyzer knew (None is left out)."""
    left, top, width, height = face.box_px.as_ints()
    payload: dict[str, Any] = {
        "box_px": {"left": left, "top": top, "width": width, "height": height},
        "probability": round(face.probability, 4),
    }
    attributes = {
        "age": face.age,
        "gender": None if face.gender is None else face.gender.name.lower(),
        "expression": None if face.expression is None else face.expression.name.lower(),
        "beauty": face.beauty,
        "hat": face.hat,
        "glasses": None if face.glasses is None else face.glasses.name.lower(),
        "mask": None if face.mask is None else face.mask.name.lower(),
    }
    payload.update({k: v for k, v in attributes.items() if v is not None})
    if face.pose is not None:
        payload["pose_deg"] = {
            "yaw": face.pose.yaw_deg,
            "pitch": face.pose.pitch_deg,
            "roll": face.pose.roll_deg,
        }
    qualities = {k: getattr(face.qualities, k) for k in face.qualities.__slots__}
    known = {k: v for k, v in qualities.items() if v is not None}
    if known:
        payload["qualities"] = known
    return payload


def track_payload(track: Track, *, frame_timestamp_s: float, analyzer: str) -> dict[str, Any]:
    return {
        "camera": track.camera,
        "track_id": track.track_id,
        "analyzer": analyzer,
        "frame_time": rfc3339(frame_timestamp_s),
        "frame_timestamp_s": round(frame_timestamp_s, 3),
        "face": face_payload(track.face),
    }


def rfc3339(timestamp_s: float) -> str:
    moment = datetime.fromtimestamp(timestamp_s, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
