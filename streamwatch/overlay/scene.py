"""Scene: what the overlay draws for one camera at one moment."""

from __future__ import annotations

from dataclasses import dataclass

from streamwatch.analysis.fallback import AnalysisState
from streamwatch.capture.frame import Frame
from streamwatch.events.model import Event
from streamwatch.overlay.alarm import Alarm
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
    # How faces are analysed now (the cloud, the device answering for it, nobody); None:
    # not known (tests, benchmarks).
    analysis: AnalysisState | None = None
    # The camera's active alarms, the one to show first (overlay.alarm); the scene board fills
    # them in as it hands the scene out, the pipeline never does.
    alarms: tuple[Alarm, ...] = ()

    @property
    def alarm(self) -> Alarm | None:
        """The alarm the screens show: the most severe active one, the newest among equals."""
        return self.alarms[0] if self.alarms else None
