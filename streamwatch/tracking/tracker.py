"""The tracker: faces of successive analyses of one camera matched into tracks.

Two faces are the same when their boxes overlap enough, or, for a face that moved more than
its own overlap allows between two analyses (a person walking in), when their centres are
close for their size and the sizes are alike. Matching is greedy, best pair first.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

from streamwatch.analysis.model import Face, FaceAnalysis
from streamwatch.config.model import TrackingSettings
from streamwatch.tracking.track import Track

# A face whose centre moved less than this many box widths, at a similar size, is the same face.
MAX_CENTRE_SHIFT_WIDTHS = 1.0
MAX_SIZE_RATIO = 1.6


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    new: tuple[Track, ...] = ()
    updated: tuple[Track, ...] = ()  # tracks matched again by this analysis
    left: tuple[Track, ...] = ()
    active: tuple[Track, ...] = ()  # every track alive after the update


class Tracker:
    def __init__(self, camera: str, settings: TrackingSettings) -> None:
        self.camera = camera
        self._settings = settings
        self._tracks: dict[str, Track] = {}
        self._ids = itertools.count(1)

    @property
    def active(self) -> tuple[Track, ...]:
        return tuple(self._tracks.values())

    def update(self, analysis: FaceAnalysis, frame_timestamp_s: float) -> TrackUpdate:
        """Match the analysis's faces to tracks; unmatched faces start new tracks.

        Tracks unseen for `left_after_s` leave first: a face that comes back after that is new.
        """
        left = self._expire(frame_timestamp_s)
        pairs = sorted(
            (
                (score, track_id, index)
                for track_id, track in self._tracks.items()
                for index, face in enumerate(analysis.faces)
                if (score := self._similarity(track.face, face)) > 0
            ),
            reverse=True,
        )
        matched_tracks: set[str] = set()
        matched_faces: set[int] = set()
        updated: list[Track] = []
        for _, track_id, index in pairs:
            if track_id in matched_tracks or index in matched_faces:
                continue
            matched_tracks.add(track_id)
            matched_faces.add(index)
            track = replace(
                self._tracks[track_id],
                face=analysis.faces[index],
                last_seen_s=frame_timestamp_s,
                analyses=self._tracks[track_id].analyses + 1,
            )
            self._tracks[track_id] = track
            updated.append(track)
        new = []
        for index, face in enumerate(analysis.faces):
            if index in matched_faces:
                continue
            track = Track(
                track_id=f"{self.camera}-{next(self._ids)}",
                camera=self.camera,
                face=face,
                first_seen_s=frame_timestamp_s,
                last_seen_s=frame_timestamp_s,
                analyses=1,
            )
            self._tracks[track.track_id] = track
            new.append(track)
        return TrackUpdate(tuple(new), tuple(updated), left, self.active)

    def expire(self, now_s: float) -> TrackUpdate:
        """Tracks unseen for `left_after_s` at time now_s (frame clock) have left."""
        return TrackUpdate(left=self._expire(now_s), active=self.active)

    def _expire(self, now_s: float) -> tuple[Track, ...]:
        gone = [
            track
            for track in self._tracks.values()
            if now_s - track.last_seen_s >= self._settings.left_after_s
        ]
        for track in gone:
            del self._tracks[track.track_id]
        return tuple(gone)

    def _similarity(self, previous: Face, current: Face) -> float:
        """> 1 for overlapping boxes (1 + IoU), in (0, 1] for near ones, 0 for different faces."""
        iou = previous.box_px.iou(current.box_px)
        if iou >= self._settings.min_iou:
            return 1.0 + iou
        size_ratio = max(previous.box_px.width, current.box_px.width) / max(
            min(previous.box_px.width, current.box_px.width), 1.0
        )
        shift_widths = math.dist(previous.box_px.center, current.box_px.center) / max(
            previous.box_px.width, 1.0
        )
        if size_ratio > MAX_SIZE_RATIO or shift_widths > MAX_CENTRE_SHIFT_WIDTHS:
            return 0.0
        return 1.0 - shift_widths / (MAX_CENTRE_SHIFT_WIDTHS + 1e-9) + 1e-6
