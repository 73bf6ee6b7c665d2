"""Track: one face followed across analyses of one camera, and the time a frame was taken.

Every duration (dwell, expiry, the rules' waits) is measured on the frames' monotonic time,
which an NTP step or a clock set by hand does not move; the wall clock is only carried along
for what events say (their `frame_time`).
"""

from __future__ import annotations

from dataclasses import dataclass

from streamwatch.analysis.model import Face


@dataclass(frozen=True, slots=True)
class FrameTime:
    """When a frame was taken (a replay: its media time, and the replay's start plus that)."""

    monotonic_s: float  # for ages and intervals; only differences mean anything
    wall_s: float  # Unix time, for event payloads only


@dataclass(frozen=True, slots=True)
class Track:
    track_id: str  # "<camera>-<n>", unique for the process's lifetime
    camera: str
    # The latest analysed face (attributes) at the newest box seen, in frame pixels; until
    # the first analysis, the local detection.
    face: Face
    first_seen_s: float  # monotonic times of the frames of the first and the latest match
    last_seen_s: float
    last_seen_wall_s: float  # the latest match on the wall clock (face.left's frame_time)
    analyses: int  # how many analyses described this track (0: seen by the local gate only)
    velocity_px_s: tuple[float, float] = (0.0, 0.0)  # of the box centre, smoothed

    @property
    def dwell_s(self) -> float:
        return self.last_seen_s - self.first_seen_s
