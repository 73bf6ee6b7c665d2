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
    # Capture time (monotonic) of the newest frame the pipeline has dealt with: looked for
    # faces in, or found nothing worth looking at (an idle camera is up to date). The tracks
    # lag the picture by frame.monotonic_s minus this. None: no frame dealt with yet.
    analysed_up_to_monotonic_s: float | None
    # Set while faces are analysed a lesser way than configured: "on-device analysis (cloud:
    # credits)" while the device answers for the cloud, "no analysis (cloud: auth)" with
    # analyzer.fallback = "none". None: as configured.
    analysis_note: str | None = None
