"""The call policy: which frame to spend a paid call on, per tracked face.

A face that appears gets one call: on its first frame at least as good as the camera's usual
(its sharpness at least the camera's recent median), as soon as the gate has seen it
FIRST_CALL_MIN_SIGHTINGS times (one detection may be a false face) — the alert goes out
one round trip after the frame; when no such frame comes within FIRST_CALL_WAIT_WINDOWS
windows of `window_s`, on the best frame of the last window (people walk in blurred and
turn towards the camera: a call on a soft frame asks for another; an older frame, however
good, would announce the face that much later).
After that a call is made only
- `better`: when the face got clearly better than the frame already sent — only while its
  state is undecided, once, or after an unusable answer (no face found there, or no mask
  state): each 1.3x improvement calling again made cascades of five calls for one person
  walking in, and a better picture of a face whose state the answers settled changes no
  alert;
- `changed`: when the local gate's mask reading changed since the last call and differs from
  the last answer. The reading is held (MaskHysteresis): it moves to a new state only after
  CHANGE_CONFIRMATIONS confident gate readings of it in a row (unsure readings, None, count
  for neither side), so a face flip-flopping in profile makes no calls;
- `undecided`: while the answers do not settle its mask state, every UNDECIDED_RETRY_S —
  unless the gate's held reading agrees with the last answer meanwhile (`seconded`): the
  rules take that as the answer's second opinion, and the face is decided without a call;
- `refresh`: every `refresh_s`;
never more than `max_calls_per_track`. Everything else is a call saved.
A face is worth a call at all (`eligible`) when it is at least `min_face_px`, not hopelessly
blurred, and not turned further than `max_yaw_deg` from the camera: the Hamilton clip's
performer, seen in profile (yaw -75 to -83 degrees) before he faces the camera, cost a call of
his own there; faces the other clips call are within 27 degrees. Nor is a face whose mouth a
hand covers (the gate's `mouth_covered`): a call on an ASL signer's hand over his mouth said
`worn`, and the maskless face after it cost a second call. A face never fit for a call is
announced from its detection alone (rules: `announce_unanalysed_after_s`).
Every fit face in the frame sent counts the call as its own, and so does a face the answer
found that was not called for (below `min_face_px` then, or its window not over): it makes
no first call of its own. A face that shrinks below `min_face_px` after fit frames still
gets its first call, on the best of them (the policy sees every gated frame, fit or not).
Re-calls other than `changed` wait for a frame no softer than `sharpness_relative_min` of the
camera's usual; a change the gate is sure of is called on the frame it is seen in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from streamwatch.analysis.model import Face, Mask
from streamwatch.budget.priority import Priority
from streamwatch.capture.frame import Frame
from streamwatch.config.model import SelectionSettings

# A frontal face of this size gets the full size score; larger faces are not better still.
FULL_SCORE_SIZE_PX = 128
# Between calls for a face whose state is undecided or changed.
UNDECIDED_RETRY_S = 1.0
# Confident gate readings in a row that move the held mask reading: at the default 5 gate
# runs a second, 0.6 s of a steady new state.
CHANGE_CONFIRMATIONS = 3
# A frame this sharp against the camera's recent median is as good as its usual.
USUAL_RELATIVE_SHARPNESS = 1.0
# How many windows a face's first call waits for a frame as good as usual before it settles
# for the best of the last window (2: one second at the default window; the entrance clip's
# visitors walk in blurred for a second, an ASL take lasts 1.6 s).
FIRST_CALL_WAIT_WINDOWS = 2
# Gate detections of a face before its first call: two in a row (0.2 s at 5 detections a
# second) are rarely a false face; one sometimes is.
FIRST_CALL_MIN_SIGHTINGS = 3


class CallReason(StrEnum):
    NEW = "new"
    BETTER = "better"
    CHANGED = "changed"
    UNDECIDED = "undecided"
    REFRESH = "refresh"


def call_priority(reason: CallReason) -> Priority:
    """What a call is worth when calls are scarce (budget/priority.py): a new face's first
    call and a mask change decide alerts; the others improve what is already known."""
    match reason:
        case CallReason.NEW | CallReason.CHANGED:
            return Priority.HIGH
        case CallReason.BETTER | CallReason.UNDECIDED | CallReason.REFRESH:
            return Priority.LOW


@dataclass(frozen=True, slots=True)
class GatedFace:
    """A face the local gate found, with what the policy needs to judge it."""

    track_id: str
    face: Face  # the local detection (box, the detector's points, its mask estimate)
    sharpness: float  # variance of the Laplacian of the face at 96x96 px
    relative_sharpness: float  # against this camera's recent median

    @property
    def size_px(self) -> float:
        return self.face.box_px.size_px

    @property
    def score(self) -> float:
        """Bigger, sharper and more frontal is better; 1.0 is a good frame, above is better."""
        size = min(1.0, self.size_px / FULL_SCORE_SIZE_PX)
        sharp = min(1.5, self.relative_sharpness)
        frontal = 1.0
        if self.face.pose is not None:
            frontal = max(0.2, 1.0 - abs(self.face.pose.yaw_deg) / 90)
        return size * sharp * frontal


@dataclass(frozen=True, slots=True)
class Candidate:
    frame: Frame
    track_ids: tuple[str, ...]  # the faces this call is for
    reason: CallReason
    score: float
    gated: tuple[GatedFace, ...]  # what the gate found in this frame


@dataclass
class MaskHysteresis:
    """The gate's mask reading of one face, held until a new state is seen steadily."""

    confirmations: int = CHANGE_CONFIRMATIONS
    held: Mask | None = None
    _candidate: Mask | None = None
    _streak: int = 0

    @property
    def steady(self) -> bool:
        """No other state is being seen (and confirmed) against the held one."""
        return self._candidate is None

    def observe(self, reading: Mask | None) -> None:
        """One gate reading: a confident state, or None (unsure, too small: no evidence)."""
        if reading is None:
            return
        if reading is self.held:
            self._candidate, self._streak = None, 0
            return
        self._streak = self._streak + 1 if reading is self._candidate else 1
        self._candidate = reading
        if self._streak >= self.confirmations:
            self.held, self._candidate, self._streak = reading, None, 0


@dataclass
class _TrackCalls:
    first_seen_s: float  # monotonic
    sightings: int = 0  # gated frames the face was in
    best: tuple[float, Frame, tuple[GatedFace, ...]] | None = None  # best before the first call
    calls: int = 0
    better_calls: int = 0
    last_call_s: float | None = None
    sent_score: float = 0.0
    undecided: bool = True
    answer_usable: bool = True  # the last answer found the face and read its mask
    answer_mask: Mask | None = None  # the mask state of the last usable answer
    mask: MaskHysteresis = field(default_factory=MaskHysteresis)
    mask_at_call: Mask | None = None  # the held gate reading when the last call was made


class CallPolicy:
    """Per camera. Feed it every gated frame; it answers with at most one candidate."""

    def __init__(self, settings: SelectionSettings) -> None:
        self._settings = settings
        self._tracks: dict[str, _TrackCalls] = {}
        # Each face as the last call `sent` for it found it.
        self._before_sent: dict[str, tuple[Candidate, _TrackCalls]] = {}
        self._first_call_max_wait_s = FIRST_CALL_WAIT_WINDOWS * settings.window_s
        self._observed: int | None = None  # the sequence of the frame last observed

    def observe(self, frame: Frame, faces: list[GatedFace]) -> None:
        """What the gate saw in `frame`: each face's sighting and mask reading. `consider`
        observes a frame itself when it was not observed first."""
        if frame.sequence == self._observed:
            return
        self._observed = frame.sequence
        for face in faces:
            state = self._tracks.setdefault(face.track_id, _TrackCalls(frame.monotonic_s))
            state.sightings += 1
            state.mask.observe(face.face.mask)

    def seconded(self, track_id: str) -> Mask | None:
        """The gate's held reading of a face the answers left undecided, when it agrees with
        the last usable answer and nothing is seen against it: a second opinion on that
        answer, for the rules to settle the face with (the pipeline asks them)."""
        state = self._tracks.get(track_id)
        if state is None or state.calls == 0 or not state.undecided or not state.answer_usable:
            return None
        held = state.mask.held
        agrees = held is not None and held is state.answer_mask and state.mask.steady
        return held if agrees else None

    def eligible(self, face: GatedFace) -> bool:
        """Big enough for the API, not hopelessly blurred, not in profile, its mouth not
        covered: worth a call at all."""
        s = self._settings
        pose = face.face.pose
        return (
            face.size_px >= s.min_face_px
            and face.sharpness >= s.sharpness_floor
            and (pose is None or abs(pose.yaw_deg) <= s.max_yaw_deg)
            and not face.face.mouth_covered
        )

    def _sharp_enough_to_call_again(self, face: GatedFace) -> bool:
        # Judged against the camera's recent faces. Not for a face's first call: its window
        # falls back to its best frame, and a person whose face is softer than this camera's
        # usual visitors must still be seen.
        return face.relative_sharpness >= self._settings.sharpness_relative_min

    def consider(self, frame: Frame, faces: list[GatedFace]) -> Candidate | None:
        now_s = frame.monotonic_s
        self.observe(frame, faces)
        due: list[Candidate] = []
        for face in faces:
            state = self._tracks[face.track_id]
            if state.calls >= self._settings.max_calls_per_track:
                continue
            if self.eligible(face):
                reason = self._reason(state, face, frame, faces)
            elif state.calls == 0:
                # Shrunk below min_face_px (stepped back, turned) after fit frames: its
                # first call still goes, on the best of them (an ASL take's face is 64 px
                # for its first half second, then 60-63 px).
                reason = self._first_call(state, now_s)
            else:
                continue
            if reason is CallReason.NEW:
                assert state.best is not None
                score, best_frame, best_gated = state.best
                due.append(Candidate(best_frame, (face.track_id,), reason, score, best_gated))
            elif reason is not None:
                due.append(Candidate(frame, (face.track_id,), reason, face.score, tuple(faces)))
        if not due:
            return None
        # One call per frame: the newest frame first (it is the freshest picture of the most
        # faces); among equals the best-looking one.
        chosen = max(due, key=lambda c: (c.frame.sequence, c.score))
        # Every fit face in the picture sent is analysed by the same call, an earlier frame's
        # too (a first call goes on the face's best frame): counted as theirs, they make no
        # first call of their own a moment later (walk_and_pause: two calls 0.25 s apart
        # for three people standing together).
        visible = {face.track_id for face in chosen.gated if self.eligible(face)}
        return Candidate(
            chosen.frame,
            tuple(sorted(visible | set(chosen.track_ids))),
            chosen.reason,
            chosen.score,
            chosen.gated,
        )

    def _reason(
        self, state: _TrackCalls, face: GatedFace, frame: Frame, faces: list[GatedFace]
    ) -> CallReason | None:
        now_s = frame.monotonic_s
        if state.calls == 0:
            # The best frame of the last window only: a first call on an older one would
            # announce the face that much later (the alert's latency counts from its frame).
            best = state.best
            if (
                best is None
                or face.score > best[0]
                or now_s - best[1].monotonic_s > self._settings.window_s
            ):
                state.best = (face.score, frame, tuple(faces))
            usual = face.relative_sharpness >= USUAL_RELATIVE_SHARPNESS
            if usual and state.sightings >= FIRST_CALL_MIN_SIGHTINGS:
                state.best = (face.score, frame, tuple(faces))
                return CallReason.NEW
            return self._first_call(state, now_s)
        assert state.last_call_s is not None
        since_s = now_s - state.last_call_s
        held = state.mask.held
        if (
            held is not None
            and held is not state.mask_at_call
            and held is not state.answer_mask
            and since_s >= UNDECIDED_RETRY_S
        ):
            return CallReason.CHANGED
        if not self._sharp_enough_to_call_again(face):
            return None
        # A face whose answers settled its state gains nothing for its alerts from a better
        # picture (the entrance clip: two of its 14 calls); an undecided one may get one.
        better_allowed = not state.answer_usable or (state.undecided and state.better_calls == 0)
        if better_allowed and face.score >= state.sent_score * self._settings.improvement:
            return CallReason.BETTER
        if state.undecided and since_s >= UNDECIDED_RETRY_S:
            return CallReason.UNDECIDED
        if since_s >= self._settings.refresh_s:
            return CallReason.REFRESH
        return None

    def _first_call(self, state: _TrackCalls, now_s: float) -> CallReason | None:
        """NEW when the face's first call is due, on the frame `state.best` then holds."""
        waited_s = now_s - state.first_seen_s
        if state.best is None or waited_s < self._first_call_max_wait_s:
            return None
        return CallReason.NEW

    def sent(self, candidate: Candidate) -> None:
        """A call goes for the candidate (until `withdrawn` says it did not after all)."""
        for track_id in candidate.track_ids:
            state = self._tracks.get(track_id)
            if state is None:
                continue
            self._before_sent[track_id] = (candidate, replace(state))
            state.calls += 1
            state.better_calls += candidate.reason is CallReason.BETTER
            state.last_call_s = candidate.frame.monotonic_s
            state.sent_score = max(state.sent_score, candidate.score)
            state.best = None
            state.mask_at_call = state.mask.held

    def withdrawn(self, candidate: Candidate) -> None:
        """The call `sent` for the candidate never went: its frame got too old while the
        budget's rate held it back. Its faces are as they were before, and then `dropped`:
        counted as called, a face whose only call was withdrawn would never get one."""
        for track_id in candidate.track_ids:
            sent, before = self._before_sent.get(track_id, (None, None))
            state = self._tracks.get(track_id)
            if sent is candidate and before is not None and state is not None:
                del self._before_sent[track_id]
                # What the gate saw meanwhile stays.
                self._tracks[track_id] = replace(before, sightings=state.sightings, mask=state.mask)
        self.dropped(candidate)

    def dropped(self, candidate: Candidate) -> None:
        """The candidate was not sent (too old, no budget): its faces start a fresh window."""
        for track_id in candidate.track_ids:
            state = self._tracks.get(track_id)
            if state is not None and state.calls == 0:
                state.best = None
                state.first_seen_s = candidate.frame.monotonic_s

    def answered(self, track_id: str, mask: Mask | None, *, found: bool = True) -> None:
        """What the answer to a call for this face said: whether it found the face, and its
        mask state (None: unknown). An unusable answer (not found, or no state) allows one
        more `better` call."""
        # Answered: the call can no longer be withdrawn, and its frame (2.7 MB at 720p) need
        # not live as long as the face.
        self._before_sent.pop(track_id, None)
        state = self._tracks.get(track_id)
        if state is None:
            return
        state.answer_usable = found and mask is not None
        if state.answer_usable:
            state.answer_mask = mask

    def found_too(self, track_id: str, mask: Mask | None, candidate: Candidate) -> None:
        """The answer to a call for other faces found this one as well (it was below
        min_face_px then, or its window not yet over): that was its first call, and it
        makes none of its own (walk_and_pause: three people standing together, a second call
        0.25 s after the first, when the next face reached 64 px)."""
        state = self._tracks.get(track_id)
        if state is None or state.calls > 0:
            return
        state.calls = 1
        state.last_call_s = candidate.frame.monotonic_s
        state.sent_score = next(
            (face.score for face in candidate.gated if face.track_id == track_id), 0.0
        )
        state.best = None
        state.mask_at_call = state.mask.held
        self.answered(track_id, mask)

    def decided(self, track_id: str, decided: bool = True) -> None:
        """Whether the answers so far settle this face's state. While they do not (none yet,
        or a later answer disagreed), it is called again every UNDECIDED_RETRY_S."""
        if track_id in self._tracks:
            self._tracks[track_id].undecided = not decided

    def at_rest(self, track_ids: Iterable[str]) -> bool:
        """Nothing is pending for these faces: each had its first call, the answers settled
        its state, and the gate's mask reading of it is steady (pace.py slows the detector)."""
        for track_id in track_ids:
            state = self._tracks.get(track_id)
            if state is None or state.calls == 0 or state.undecided or not state.mask.steady:
                return False
        return True

    def forget(self, track_id: str) -> None:
        self._tracks.pop(track_id, None)
        self._before_sent.pop(track_id, None)
