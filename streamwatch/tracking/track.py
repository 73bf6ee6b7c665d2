"""Track: one face followed across analyses of one camera."""

from __future__ import annotations

from dataclasses import dataclass

from streamwatch.analysis.model import Face


@dataclass(frozen=True, slots=True)
class Track:
    track_id: str  # "<camera>-<n>", unique for the process's lifetime
    camera: str
    # The latest analysed face (attributes) at the newest box seen, in frame pixels; until
    # the first analysis, the local detection.
    face: Face
    first_seen_s: float  # frame timestamps (wall clock) of the first and the latest match
    last_seen_s: float
    analyses: int  # how many analyses described this track (0: seen by the local gate only)
    velocity_px_s: tuple[float, float] = (0.0, 0.0)  # of the box centre, smoothed

    @property
    def dwell_s(self) -> float:
        return self.last_seen_s - self.first_seen_s
