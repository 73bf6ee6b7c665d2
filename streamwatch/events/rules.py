"""The rules: track changes of one camera → events.

- `face.new`: a track starts;
- `face.maskless`: a track's analysis says mask 0 (no mask), once per track;
- `face.left`: a track ended, with how long the face stayed.
"""

from __future__ import annotations

from streamwatch.analysis.model import Mask
from streamwatch.events.model import Event
from streamwatch.events.payload import track_payload
from streamwatch.tracking.track import Track
from streamwatch.tracking.tracker import TrackUpdate


class EventRules:
    def __init__(self, *, node: str, camera: str) -> None:
        self.node = node
        self.camera = camera
        self._maskless_alerted: set[str] = set()

    def apply(self, update: TrackUpdate, *, frame_timestamp_s: float, analyzer: str) -> list[Event]:
        """The events of one update, in the order things happened: left, new, then states."""
        events = []
        for track in update.left:
            self._maskless_alerted.discard(track.track_id)
            dwell_s = round(track.dwell_s, 2)
            events.append(
                self._event("face.left", track, track.last_seen_s, analyzer, dwell_s=dwell_s)
            )
        events += [
            self._event("face.new", track, frame_timestamp_s, analyzer) for track in update.new
        ]
        for track in (*update.new, *update.updated):
            if track.face.mask is Mask.NONE and track.track_id not in self._maskless_alerted:
                self._maskless_alerted.add(track.track_id)
                events.append(self._event("face.maskless", track, frame_timestamp_s, analyzer))
        return events

    def _event(
        self, kind: str, track: Track, frame_timestamp_s: float, analyzer: str, **extra: object
    ) -> Event:
        data = track_payload(track, frame_timestamp_s=frame_timestamp_s, analyzer=analyzer)
        return Event.create(
            kind, node=self.node, camera=self.camera, subject=track.track_id, data=data | extra
        )
