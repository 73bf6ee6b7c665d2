"""When a track gets a new appearance signature: once, and again only when its face changed.

A signature (SFace, ~4 ms of CPU a face: bench/local_analyzer.py) was computed on every
analysis of every face, though the rules read a track's only when it is announced (the
identity memory: new or returned) and when it leaves (an identity without one takes it). So a
track gets one with its first analysis, and a new one only when the face it stands for may
no longer look like it: the face grew or shrank by RESIZE_FACTOR (nearer or further: a
different picture of it), turned by TURN_DEG in yaw or pitch (a different view of the head),
or the signature is `tracking.signature_refresh_s` old. Between, the track keeps the one it
has (Tracker.attach). Times are the frames' monotonic ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamwatch.analysis.model import Face

# A face this many times bigger or smaller than when its signature was taken is a new picture.
RESIZE_FACTOR = 1.5
# A head turned this far (yaw or pitch) from the view the signature was taken of.
TURN_DEG = 20.0


@dataclass(frozen=True, slots=True)
class _Taken:
    """The face a track's signature was computed from."""

    at_s: float  # monotonic, the frame's
    size_px: float
    yaw_deg: float | None
    pitch_deg: float | None


class SignatureSchedule:
    """Which analysed faces of which tracks need a signature computed (one camera's)."""

    def __init__(self, refresh_s: float) -> None:
        self._refresh_s = refresh_s
        self._taken: dict[str, _Taken] = {}

    def due(self, track_id: str, face: Face, at_s: float) -> bool:
        """Whether the track needs a signature of `face`, seen in the frame taken at `at_s`."""
        taken = self._taken.get(track_id)
        if taken is None:
            return True
        now_px, then_px = max(face.box_px.size_px, 1.0), max(taken.size_px, 1.0)
        pose = face.pose
        turned = pose is not None and (
            _apart(pose.yaw_deg, taken.yaw_deg) or _apart(pose.pitch_deg, taken.pitch_deg)
        )
        return (
            at_s - taken.at_s >= self._refresh_s
            or max(now_px, then_px) / min(now_px, then_px) >= RESIZE_FACTOR
            or turned
        )

    def taken(self, track_id: str, face: Face, at_s: float) -> None:
        """The track's signature was computed from `face` (a frame taken at `at_s`)."""
        pose = face.pose
        self._taken[track_id] = _Taken(
            at_s,
            face.box_px.size_px,
            None if pose is None else pose.yaw_deg,
            None if pose is None else pose.pitch_deg,
        )

    def forget(self, track_id: str) -> None:
        """The track ended."""
        self._taken.pop(track_id, None)


def _apart(now_deg: float, then_deg: float | None) -> bool:
    # A pose unknown then and known now: the old view cannot vouch for this one.
    return then_deg is None or abs(now_deg - then_deg) >= TURN_DEG
