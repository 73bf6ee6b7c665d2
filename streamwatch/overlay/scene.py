"""Scene: what the overlay draws for one camera at one moment."""

from __future__ import annotations

from dataclasses import dataclass

from streamwatch.capture.frame import Frame
from streamwatch.events.model import Event
from streamwatch.tracking.track import Track


@dataclass(frozen=True, slots=True)
class Scene:
    frame: Frame  # the newest frame of the camera
    tracks: tuple[Track, ...]  # the faces currently tracked, boxes in frame pixels
    recent_events: tuple[Event, ...]  # newest last
    fps_in: float  # frames per second read from the camera
    last_analysis_monotonic_s: float | None  # when the latest analysis finished
