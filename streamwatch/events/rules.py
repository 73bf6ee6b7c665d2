"""The rules: track changes of one camera → events.

- `face.new`: a track's first analysis (or, if no analysis comes, its local detection after
  `announce_unanalysed_after_s`: an API outage must not hide visitors);
- `face.maskless`: an analysis says mask 0 (no mask), once per track;
- `face.left`: an announced track ended, with how long the face stayed.
"""

from __future__ import annotations

from streamwatch.analysis.model import Mask
from streamwatch.config.model import TrackingSettings
from streamwatch.events.model import Event
from streamwatch.events.payload import track_payload
from streamwatch.tracking.track import Track
from streamwatch.tracking.tracker import TrackUpdate

UNANALYSED = "local-gate"  # the `analyzer` of an event decided from the local detection alone


class EventRules:
    def __init__(self, *, node: str, camera: str, settings: TrackingSettings) -> None:
        self.node = node
        self.camera = camera
        self._settings = settings
        self._announced: set[str] = set()
        self._maskless_alerted: set[str] = set()

    def apply(self, update: TrackUpdate, *, frame_timestamp_s: float, analyzer: str) -> list[Event]:
        """The events of one update, in the order things happened: left, new, then states."""
        events = []
        for track in update.left:
            self._maskless_alerted.discard(track.track_id)
            if track.track_id in self._announced:
                self._announced.discard(track.track_id)
                dwell_s = round(track.dwell_s, 2)
                events.append(
                    self._event("face.left", track, track.last_seen_s, analyzer, dwell_s=dwell_s)
                )
        for track in update.analysed:
            events += self._announce(track, frame_timestamp_s, analyzer)
        for track in (*update.new, *update.updated):
            waited_s = frame_timestamp_s - track.first_seen_s
            if track.analyses == 0 and waited_s >= self._settings.announce_unanalysed_after_s:
                events += self._announce(track, frame_timestamp_s, UNANALYSED)
        for track in update.analysed:
            if track.face.mask is Mask.NONE and track.track_id not in self._maskless_alerted:
                self._maskless_alerted.add(track.track_id)
                events.append(self._event("face.maskless", track, frame_timestamp_s, analyzer))
        return events

    def _announce(self, track: Track, frame_timestamp_s: float, analyzer: str) -> list[Event]:
        if track.track_id in self._announced:
            return []
        self._announced.add(track.track_id)
        return [self._event("face.new", track, frame_timestamp_s, analyzer)]

    def _event(
        self, kind: str, track: Track, frame_timestamp_s: float, analyzer: str, **extra: object
    ) -> Event:
        data = track_payload(track, frame_timestamp_s=frame_timestamp_s, analyzer=analyzer)
        return Event.create(
            kind, node=self.node, camera=self.camera, subject=track.track_id, data=data | extra
        )
