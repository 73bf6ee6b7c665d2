"""The tracker: one camera's faces followed over time.

Two streams feed it. The local face gate's detections (`observe`, several times a second)
move the tracks: a detection joins the track whose predicted box (constant velocity) it
overlaps, or — for a face that moved further than its own overlap allows — whose centre is
near for its size. Analyses (`attach`, from the cloud API or the local analyzer) describe the
faces; they arrive late, for a frame that is already old, so each is matched against where
the tracks were at that frame's time, never where they are now. An analysed face without an
appearance signature keeps the track's last one (computed once a track unless its face
changed: signature_schedule.py).

Times are the frames' (`FrameTime`): every age and interval on their monotonic time. Track
numbers come from a `TrackNumbers` the caller may share, so that a camera restarted (a
reload) goes on counting where its last tracker stopped: a track id never names two faces.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from streamwatch.analysis.model import Box, Face, FaceAnalysis
from streamwatch.config.model import TrackingSettings
from streamwatch.tracking.track import FrameTime, Track

# A face whose centre moved less than this many box widths, at a similar size, is the same face.
MAX_CENTRE_SHIFT_WIDTHS = 1.0
MAX_SIZE_RATIO = 1.6
# Smoothing of the velocity estimate: the share of the newest measurement.
VELOCITY_GAIN = 0.5
# Box positions kept per track to place late answers (5 Hz gate → ~12 s of history).
HISTORY_LENGTH = 64


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    new: tuple[Track, ...] = ()
    updated: tuple[Track, ...] = ()  # tracks that moved (matched a detection or an analysis)
    analysed: tuple[Track, ...] = ()  # tracks an analysis described in this update
    left: tuple[Track, ...] = ()
    active: tuple[Track, ...] = ()  # every track alive after the update
    # The local detection each new or updated track got from `observe`, by track id: it has
    # the detector's own points and estimates, where the track keeps the analysed face.
    detections: Mapping[str, Face] = field(default_factory=dict)


class TrackNumbers:
    """The numbers of each camera's tracks, never given twice: one per process, shared by
    every tracker a camera gets."""

    def __init__(self) -> None:
        self._next: dict[str, Iterator[int]] = {}

    def of(self, camera: str) -> Iterator[int]:
        return self._next.setdefault(camera, itertools.count(1))


@dataclass
class _Path:
    """Where a track was: (frame monotonic time, box), oldest first."""

    points: deque[tuple[float, Box]] = field(default_factory=lambda: deque(maxlen=HISTORY_LENGTH))

    def box_at(self, monotonic_s: float) -> Box:
        return min(self.points, key=lambda point: abs(point[0] - monotonic_s))[1]


class Tracker:
    def __init__(
        self, camera: str, settings: TrackingSettings, *, numbers: Iterator[int] | None = None
    ) -> None:
        """`numbers`: where track numbers come from (TrackNumbers.of); default from 1."""
        self.camera = camera
        self._settings = settings
        self._tracks: dict[str, Track] = {}
        self._paths: dict[str, _Path] = {}
        self._numbers = numbers if numbers is not None else itertools.count(1)

    @property
    def active(self) -> tuple[Track, ...]:
        return tuple(self._tracks.values())

    def track(self, track_id: str) -> Track | None:
        return self._tracks.get(track_id)

    def observe(self, faces: Sequence[Face], at: FrameTime) -> TrackUpdate:
        """Local detections of one frame: move the tracks, start new ones, end old ones."""
        left = self._expire(at.monotonic_s)
        predicted = {tid: self._predict(t, at.monotonic_s) for tid, t in self._tracks.items()}
        pairs = _match(predicted, [face.box_px for face in faces], self._settings.min_iou)
        updated = []
        detections = {}
        for track_id, index in pairs:
            updated.append(self._move(track_id, faces[index].box_px, at))
            detections[track_id] = faces[index]
        new = []
        for index, face in enumerate(faces):
            if index not in {i for _, i in pairs}:
                new.append(self._start(face, at, analyses=0))
                detections[new[-1].track_id] = face
        return TrackUpdate(tuple(new), tuple(updated), (), left, self.active, detections)

    def attach(self, analysis: FaceAnalysis, at: FrameTime) -> TrackUpdate:
        """An analysis of the frame taken `at`: describe the tracks in it."""
        then = {tid: self._paths[tid].box_at(at.monotonic_s) for tid in self._tracks}
        pairs = _match(then, [face.box_px for face in analysis.faces], self._settings.min_iou)
        analysed = []
        for track_id, index in pairs:
            track = self._tracks[track_id]
            # The analysis describes the face; the box stays the newest one seen, which may
            # be later than the analysed frame.
            face = analysis.faces[index]
            if face.signature is None:  # computed once, kept until a new one is due
                face = replace(face, signature=track.face.signature)
            newer = track.last_seen_s > at.monotonic_s
            current = replace(face, box_px=track.face.box_px) if newer else face
            track = _seen(replace(track, face=current, analyses=track.analyses + 1), at)
            self._tracks[track_id] = track
            if not newer:
                self._paths[track_id].points.append((at.monotonic_s, face.box_px))
            analysed.append(track)
        # A face the analysis saw but the gate did not (smaller, or the gate is off).
        new = [
            self._start(face, at, analyses=1)
            for index, face in enumerate(analysis.faces)
            if index not in {i for _, i in pairs}
        ]
        return TrackUpdate(
            new=tuple(new), updated=tuple(analysed), analysed=(*analysed, *new), active=self.active
        )

    def end_all(self) -> TrackUpdate:
        """Every track ends now (a cut: whoever is in the picture next is someone new)."""
        gone = self.active
        self._tracks.clear()
        self._paths.clear()
        return TrackUpdate(left=gone)

    def expire(self, now_s: float) -> TrackUpdate:
        """Tracks unseen for `left_after_s` at monotonic time now_s (frame clock) have left."""
        return TrackUpdate(left=self._expire(now_s), active=self.active)

    def _start(self, face: Face, at: FrameTime, *, analyses: int) -> Track:
        track = Track(
            track_id=f"{self.camera}-{next(self._numbers)}",
            camera=self.camera,
            face=face,
            first_seen_s=at.monotonic_s,
            last_seen_s=at.monotonic_s,
            last_seen_wall_s=at.wall_s,
            analyses=analyses,
        )
        self._tracks[track.track_id] = track
        self._paths[track.track_id] = _Path()
        self._paths[track.track_id].points.append((at.monotonic_s, face.box_px))
        return track

    def _move(self, track_id: str, box: Box, at: FrameTime) -> Track:
        track = self._tracks[track_id]
        dt_s = at.monotonic_s - track.last_seen_s
        velocity = track.velocity_px_s
        if dt_s > 0:
            (x0, y0), (x1, y1) = track.face.box_px.center, box.center
            measured = ((x1 - x0) / dt_s, (y1 - y0) / dt_s)
            velocity = (
                (1 - VELOCITY_GAIN) * velocity[0] + VELOCITY_GAIN * measured[0],
                (1 - VELOCITY_GAIN) * velocity[1] + VELOCITY_GAIN * measured[1],
            )
        old = track.face.box_px
        # Landmarks and pupils travel with the box (resized boxes keep them at the centre).
        face = track.face.moved(box.center[0] - old.center[0], box.center[1] - old.center[1])
        track = _seen(replace(track, face=replace(face, box_px=box), velocity_px_s=velocity), at)
        self._tracks[track_id] = track
        self._paths[track_id].points.append((at.monotonic_s, box))
        return track

    def _predict(self, track: Track, monotonic_s: float) -> Box:
        dt_s = max(0.0, monotonic_s - track.last_seen_s)
        box = track.face.box_px
        vx, vy = track.velocity_px_s
        return Box(box.left + vx * dt_s, box.top + vy * dt_s, box.width, box.height)

    def _expire(self, now_s: float) -> tuple[Track, ...]:
        gone = [
            track
            for track in self._tracks.values()
            if now_s - track.last_seen_s >= self._settings.left_after_s
        ]
        for track in gone:
            del self._tracks[track.track_id]
            del self._paths[track.track_id]
        return tuple(gone)


def _seen(track: Track, at: FrameTime) -> Track:
    """The track, last seen `at` unless it was already seen later (a late analysis)."""
    if at.monotonic_s < track.last_seen_s:
        return track
    return replace(track, last_seen_s=at.monotonic_s, last_seen_wall_s=at.wall_s)


def _match(tracks: dict[str, Box], boxes: Sequence[Box], min_iou: float) -> list[tuple[str, int]]:
    """Greedy best-first pairs of (track id, box index) that are the same face."""
    scored = sorted(
        (
            (score, track_id, index)
            for track_id, track_box in tracks.items()
            for index, box in enumerate(boxes)
            if (score := _similarity(track_box, box, min_iou)) > 0
        ),
        reverse=True,
    )
    pairs: list[tuple[str, int]] = []
    for _, track_id, index in scored:
        if all(track_id != t and index != i for t, i in pairs):
            pairs.append((track_id, index))
    return pairs


def _similarity(previous: Box, current: Box, min_iou: float) -> float:
    """> 1 for overlapping boxes (1 + IoU), in (0, 1] for near ones, 0 for different faces."""
    iou = previous.iou(current)
    if iou >= min_iou:
        return 1.0 + iou
    size_ratio = max(previous.width, current.width) / max(min(previous.width, current.width), 1.0)
    shift_widths = math.dist(previous.center, current.center) / max(previous.width, 1.0)
    if size_ratio > MAX_SIZE_RATIO or shift_widths > MAX_CENTRE_SHIFT_WIDTHS:
        return 0.0
    return 1.0 - shift_widths / (MAX_CENTRE_SHIFT_WIDTHS + 1e-9) + 1e-6
