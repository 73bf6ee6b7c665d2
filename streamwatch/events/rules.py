"""The rules: track changes of one camera → the events people act on.

- `face.new` / `face.returned`: a face is announced with its first analysis (or, when no
  analysis comes — API down, budget spent — from its local detection after
  `announce_unanalysed_after_s`, if it is big enough for a call or the camera's rules set a
  `min_face_px` it reaches: a smaller one was never going to be analysed, and the only one
  on the development clips was the back of a head, 41 px, held for 5 s). The identity
  memory decides which of the two: a face seen within `forget_after_s` returns. A track
  that is the same identity as one still in view (the tracker lost and refound it) is
  re-linked to that visit: no second event.
  An answer that settles a face's mask state is remembered with its identity, for the
  pipeline to describe the same person with when they come back soon (`remembered`).
- `face.left`: the last track of an announced visit ended (expired, cut, or closed with its
  camera); with the identity and the dwell time.
- `face.maskless` / `face.mask_incorrect`: confirmed by k of the last n analyses, by one
  confident answer, or by one answer the local gate's reading agrees with
  (`mask_gate_confirms`): its reading of the same frame, or its steady reading of the face
  since (`second`: the pipeline asks when the policy holds one); once per face, and again
  only after `cooldown_s` with new evidence.
  The same rule whoever answered: the gate reports only readings its mask classifier is
  confident of, so on the device's own path (the local analyzer, or the fallback when the
  cloud cannot answer) one answer is enough exactly when the classifier is sure of it, and
  a short maskless stretch is not lost waiting for a second look.
- `face.low_quality`: an analysed face whose best picture quality (the worst of blur,
  lighting and noise) stays below the threshold.
Faces outside the camera's zone or smaller than its `min_face_px` make no face events.

The rules are pure and synchronous: no picture, no I/O. Every wait above is measured on the
frames' monotonic time; the wall clock only appears in the payloads. The face crop an event
may carry is added after them, off the event loop (events.crop.with_crops).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from streamwatch.analysis.model import Mask, Qualities, Signature
from streamwatch.config.model import RuleSettings, TrackingSettings
from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event
from streamwatch.events.payload import track_payload
from streamwatch.tracking.identity import IdentityMemory, RememberedAnswer
from streamwatch.tracking.track import FrameTime, Track
from streamwatch.tracking.tracker import TrackUpdate

UNANALYSED = "local-gate"  # the `analyzer` of an event decided from the local detection alone
MASK_ALERTS = (
    (EventKind.FACE_MASKLESS, Mask.NONE),
    (EventKind.FACE_MASK_INCORRECT, Mask.INCORRECT),
)


@dataclass(frozen=True, slots=True)
class _Answer:
    """Who gave a face's latest answer, for the frame taken when, and what its events add."""

    analyzer: str
    at: FrameTime
    note: Mapping[str, object]


@dataclass
class _Face:
    """What the rules remember of one track."""

    identity_id: str | None = None
    visit_track_id: str | None = None  # the track that announced the visit this one belongs to
    masks: deque[Mask | None] = field(default_factory=deque)  # the last n answers' states
    alerted_at_s: dict[EventKind, float] = field(default_factory=dict)  # monotonic
    # The mask state the answers settled on (k of n, or one sure answer); no more calls
    # are needed for it until an answer says otherwise.
    settled: Mask | None = None
    answer: _Answer | None = None  # the latest
    best_quality: float | None = None
    low_quality_sent: bool = False


class EventRules:
    def __init__(
        self,
        *,
        node: str,
        camera: str,
        rules: RuleSettings,
        tracking: TrackingSettings,
        identities: IdentityMemory | None = None,
        analysable_from_px: float = 0.0,
    ) -> None:
        """`analysable_from_px`: the smallest face a call is made for (the selection's
        `min_face_px`); a face never analysed is announced from its detection only from
        this size, or from the rules' own `min_face_px` when they set one."""
        self.node = node
        self.camera = camera
        self._rules = rules
        self._tracking = tracking
        self._unanalysed_from_px = rules.min_face_px or analysable_from_px
        self._identities = identities or IdentityMemory(tracking)
        self._faces: dict[str, _Face] = {}
        self._in_view: dict[str, set[str]] = {}  # identity id → its announced tracks in view
        self._last_seen_s: dict[str, float] = {}  # track id → when last seen (monotonic)

    def settled(self, track_id: str) -> bool:
        """Whether the face's mask state is decided (no more calls needed to confirm it)."""
        face = self._faces.get(track_id)
        return face is not None and face.settled is not None

    def apply(
        self,
        update: TrackUpdate,
        *,
        at: FrameTime,
        analyzer: str,
        gate_masks: Mapping[str, Mask] | None = None,
        remembered: bool = False,
        note: Mapping[str, object] | None = None,
    ) -> list[Event]:
        """The events of one update of the frame taken `at`, in the order things happened:
        left, new, then states.

        `gate_masks`: the local gate's confident mask reading of each analysed track in the
        analysed frame: a second opinion on the cloud's answer, and on the device's own the
        classifier's word that it is sure.
        `note`: what every event of the update says of the answer besides (the pipeline's:
        why the device answered, how old a remembered answer is); the mask alerts a later
        `second` confirms say it too.
        """
        events = [e for track in update.left if (e := self._left(track, analyzer)) is not None]
        for track in (*update.new, *update.updated, *update.analysed):
            self._last_seen_s[track.track_id] = track.last_seen_s
        for track in update.analysed:
            events += self._announce(track, at, analyzer)
        for track in (*update.new, *update.updated):
            waited_s = at.monotonic_s - track.first_seen_s
            if (
                track.analyses == 0
                and waited_s >= self._tracking.announce_unanalysed_after_s
                and track.face.box_px.size_px >= self._unanalysed_from_px
            ):
                events += self._announce(track, at, UNANALYSED)
        answer = _Answer(analyzer, at, note or {})
        for track in update.analysed:
            if track.track_id in self._faces:
                gate_mask = (gate_masks or {}).get(track.track_id)
                events += self._states(track, answer, gate_mask, remembered)
        return self._delivered(events, answer.note)

    def second(self, track: Track, gate_mask: Mask, at: FrameTime) -> list[Event]:
        """The gate's steady reading of a face (the call policy's held one, taken in the
        frame `at`) agrees with the face's latest answer, which did not settle its state
        alone: the same second opinion as its reading of the answer's own frame, a moment
        later, instead of another call. Then the state is settled and its alerts go out."""
        face = self._faces.get(track.track_id)
        if (
            face is None
            or face.answer is None
            or face.settled is not None
            or not face.masks
            or not self._seconds(face.masks[-1], gate_mask)
        ):
            return []
        events = self._mask_states(face, track, at, sure=True, remembered=False)
        return self._delivered(events, face.answer.note)

    def _delivered(self, events: list[Event], note: Mapping[str, object]) -> list[Event]:
        """The events the camera wants, with the answer's note."""
        return [
            replace(event, data={**event.data, **note}) if note else event
            for event in events
            if event.kind in self._rules.events
        ]

    def _announce(self, track: Track, at: FrameTime, analyzer: str) -> list[Event]:
        if track.track_id in self._faces or not self._counts(track):
            return []
        face = self._faces[track.track_id] = _Face()
        recognition = self._identities.recognise(
            track.track_id, track.face.signature, at.monotonic_s, exclude=self._beside(track)
        )
        face.identity_id = recognition.identity_id
        in_view = self._in_view.setdefault(recognition.identity_id, set())
        if in_view:
            # The same person is still in view under another track: the tracker lost and
            # refound them. One visit, one face.new.
            face.visit_track_id = next(iter(in_view))
            in_view.add(track.track_id)
            return []
        in_view.add(track.track_id)
        face.visit_track_id = track.track_id
        if recognition.returned:
            assert recognition.away_s is not None
            return [
                self._event(
                    EventKind.FACE_RETURNED,
                    track,
                    at.wall_s,
                    analyzer,
                    previous_track_id=recognition.previous_track_id,
                    away_s=round(recognition.away_s, 1),
                )
            ]
        return [self._event(EventKind.FACE_NEW, track, at.wall_s, analyzer)]

    def remembered(
        self, track: Track, signature: Signature, now_s: float, *, max_age_s: float
    ) -> RememberedAnswer | None:
        """The answer that settled the mask state of the person this new track is, when
        they were answered for less than `max_age_s` ago (monotonic now_s)."""
        return self._identities.recall(
            signature, now_s, max_age_s=max_age_s, exclude=self._beside(track)
        )

    def remembers_answers_since(self, oldest_s: float) -> bool:
        return self._identities.answered_since(oldest_s)

    def _beside(self, track: Track) -> set[str]:
        """The identities in the picture with this track: two faces in the same picture are
        two people, however alike they look."""
        return {
            identity_id
            for identity_id, track_ids in self._in_view.items()
            if any(self._last_seen_s.get(t, -math.inf) >= track.first_seen_s for t in track_ids)
        }

    def _left(self, track: Track, analyzer: str) -> Event | None:
        face = self._faces.pop(track.track_id, None)
        self._last_seen_s.pop(track.track_id, None)
        if face is None or face.identity_id is None:
            return None
        self._identities.seen(face.identity_id, track.face.signature, track.last_seen_s)
        in_view = self._in_view.get(face.identity_id, set())
        in_view.discard(track.track_id)
        if in_view:
            return None  # the visit goes on under another track
        self._in_view.pop(face.identity_id, None)
        return self._event(
            EventKind.FACE_LEFT,
            track,
            track.last_seen_wall_s,
            analyzer,
            identity_id=face.identity_id,
            dwell_s=round(track.dwell_s, 2),
        )

    def _states(
        self, track: Track, answer: _Answer, gate_mask: Mask | None, remembered: bool
    ) -> list[Event]:
        face = self._faces[track.track_id]
        face.answer = answer
        latest = track.face.mask
        quality = track.face.qualities.score
        confident = quality is not None and quality >= self._rules.confident_quality
        face.masks.append(latest)
        while len(face.masks) > self._rules.mask_confirm_n:
            face.masks.popleft()
        sure = confident or self._seconds(latest, gate_mask)
        events = self._mask_states(face, track, answer.at, sure=sure, remembered=remembered)
        picture = _picture_quality(track.face.qualities)
        if picture is not None:
            face.best_quality = max(face.best_quality or 0.0, picture)
            if face.best_quality < self._rules.low_quality_below and not face.low_quality_sent:
                face.low_quality_sent = True
                events.append(
                    self._event(
                        EventKind.FACE_LOW_QUALITY,
                        track,
                        answer.at.wall_s,
                        answer.analyzer,
                        picture_quality=round(picture, 1),
                    )
                )
        return events

    def _seconds(self, answered: Mask | None, gate_mask: Mask | None) -> bool:
        return self._rules.mask_gate_confirms and answered is not None and gate_mask is answered

    def _mask_states(
        self, face: _Face, track: Track, at: FrameTime, *, sure: bool, remembered: bool
    ) -> list[Event]:
        """The face's state after its latest answer (sure of itself, or not), and the mask
        alerts confirmed in the frame taken `at`."""
        assert face.answer is not None
        analyzer = face.answer.analyzer
        latest = face.masks[-1]
        if latest is not None and (sure or face.masks.count(latest) >= self._rules.mask_confirm_k):
            face.settled = latest
        elif latest is not None and latest is not face.settled:
            face.settled = None  # an answer disagrees: undecided again
        if face.settled is not None and face.identity_id is not None and not remembered:
            # A remembered answer is not remembered again: it ages from the call it came from.
            answer = RememberedAnswer(track.face, analyzer, face.answer.at.monotonic_s)
            self._identities.answered(face.identity_id, answer)
        events = []
        for kind, state in MASK_ALERTS:
            confirmed = (latest is state and sure) or (
                face.masks.count(state) >= self._rules.mask_confirm_k
            )
            last_s = face.alerted_at_s.get(kind)
            cooled = last_s is None or at.monotonic_s - last_s >= self._rules.cooldown_s
            if confirmed and cooled:
                face.alerted_at_s[kind] = at.monotonic_s
                face.masks.clear()  # a repeat needs evidence gathered after this alert
                events.append(self._event(kind, track, at.wall_s, analyzer))
        return events

    def _counts(self, track: Track) -> bool:
        """Big enough and inside the zone to make face events."""
        box = track.face.box_px
        if box.size_px < self._rules.min_face_px:
            return False
        return not self._rules.zone or _inside(box.center, self._rules.zone)

    def _event(
        self,
        kind: EventKind,
        track: Track,
        frame_timestamp_s: float,  # wall clock, for the payload
        analyzer: str,
        **extra: object,
    ) -> Event:
        data = track_payload(track, frame_timestamp_s=frame_timestamp_s, analyzer=analyzer)
        face = self._faces.get(track.track_id)
        if face is not None and face.identity_id is not None:
            data["identity_id"] = face.identity_id
        return Event.create(
            kind, node=self.node, camera=self.camera, subject=track.track_id, data=data | extra
        )


def _picture_quality(qualities: Qualities) -> float | None:
    """How good the picture of the face is: the worst of blur, lighting and noise (0-100).

    Not the overall score, which also counts a mask or glasses against the face: a masked
    visitor is not a bad picture.
    """
    known = [q for q in (qualities.blur, qualities.illu, qualities.noise) if q is not None]
    return min(known) if known else None


def _inside(point: tuple[float, float], polygon: tuple[tuple[float, float], ...]) -> bool:
    """Ray casting: whether the point lies inside the polygon."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
