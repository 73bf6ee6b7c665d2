"""Track: one face followed across analyses of one camera."""

from __future__ import annotations

from dataclasses import dataclass

from streamwatch.analysis.model import Face


@dataclass(frozen=True, slots=True)
class Track:
    track_id: str  # "<camera>-<n>", unique for the process's lifetime
    camera: str
    face: Face  # the latest analysed face of the track, box in frame pixels
    first_seen_s: float  # frame timestamps (wall clock) of the first and the latest match
    last_seen_s: float
    analyses: int  # how many analyses matched this track

    @property
    def dwell_s(self) -> float:
        return self.last_seen_s - self.first_seen_s
