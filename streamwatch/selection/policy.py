"""The call policy: which frame to spend a paid call on, per tracked face.

A face that appears gets one call, on its best frame of its first `window_s` seconds (people
walk in blurred and turn towards the camera: the first frame is rarely the best). After that a
call is made only when the face got clearly better than the frame already sent, when its state
is still undecided (the answer left its mask unknown), when the local gate sees its state
change (its on-device mask estimate flipped for two gate runs in a row: a mask taken off),
or every `refresh_s`; never more than `max_calls_per_track`. Everything else is a call saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streamwatch.analysis.model import Face, Mask
from streamwatch.capture.frame import Frame
from streamwatch.config.model import SelectionSettings

# A frontal face of this size gets the full size score; larger faces are not better still.
FULL_SCORE_SIZE_PX = 128
# Between calls for a face whose state is undecided or changed.
UNDECIDED_RETRY_S = 1.0
# Gate runs in a row that must agree on a changed local mask estimate: one alone is noise.
CHANGE_CONFIRMATIONS = 2


class CallReason(StrEnum):
    NEW = "new"
    BETTER = "better"
    CHANGED = "changed"
    UNDECIDED = "undecided"
    REFRESH = "refresh"


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
class _TrackCalls:
    first_seen_s: float  # monotonic
    best: tuple[float, Frame, tuple[GatedFace, ...]] | None = None  # best of the first window
    calls: int = 0
    last_call_s: float | None = None
    sent_score: float = 0.0
    undecided: bool = True
    mask_at_call: Mask | None = None  # the local gate's estimate when the last call was made
    latest_mask: Mask | None = None
    mask_changes_seen: int = 0


class CallPolicy:
    """Per camera. Feed it every gated frame; it answers with at most one candidate."""

    def __init__(self, settings: SelectionSettings) -> None:
        self._settings = settings
        self._tracks: dict[str, _TrackCalls] = {}

    def eligible(self, face: GatedFace) -> bool:
        """Big enough for the API and not hopelessly blurred: worth a call at all."""
        s = self._settings
        return face.size_px >= s.min_face_px and face.sharpness >= s.sharpness_floor

    def _as_good_as_usual(self, face: GatedFace) -> bool:
        # Judged against the camera's recent faces. Not for a face's first call: its window
        # already picks its best frame, and a person whose face is softer than this camera's
        # usual visitors must still be seen.
        return face.relative_sharpness >= self._settings.sharpness_relative_min

    def consider(self, frame: Frame, faces: list[GatedFace]) -> Candidate | None:
        now_s = frame.monotonic_s
        due: list[Candidate] = []
        for face in faces:
            state = self._tracks.setdefault(face.track_id, _TrackCalls(first_seen_s=now_s))
            state.latest_mask = face.face.mask
            if not self.eligible(face) or state.calls >= self._settings.max_calls_per_track:
                continue
            reason = self._reason(state, face, frame, faces)
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
        visible = {face.track_id for face in faces if self.eligible(face)}
        if chosen.frame is frame:
            # Every face in the picture is analysed by the same call.
            chosen = Candidate(
                frame, tuple(sorted(visible)), chosen.reason, chosen.score, tuple(faces)
            )
        return chosen

    def _reason(
        self, state: _TrackCalls, face: GatedFace, frame: Frame, faces: list[GatedFace]
    ) -> CallReason | None:
        now_s = frame.monotonic_s
        if state.calls == 0:
            if state.best is None or face.score > state.best[0]:
                state.best = (face.score, frame, tuple(faces))
            window_over = now_s - state.first_seen_s >= self._settings.window_s
            return CallReason.NEW if window_over else None
        assert state.last_call_s is not None
        since_s = now_s - state.last_call_s
        changed = face.face.mask is not None and face.face.mask != state.mask_at_call
        state.mask_changes_seen = state.mask_changes_seen + 1 if changed else 0
        if not self._as_good_as_usual(face):
            return None
        if face.score >= state.sent_score * self._settings.improvement:
            return CallReason.BETTER
        if state.mask_changes_seen >= CHANGE_CONFIRMATIONS and since_s >= UNDECIDED_RETRY_S:
            return CallReason.CHANGED
        if state.undecided and since_s >= UNDECIDED_RETRY_S:
            return CallReason.UNDECIDED
        if since_s >= self._settings.refresh_s:
            return CallReason.REFRESH
        return None

    def sent(self, candidate: Candidate) -> None:
        """A call was made for the candidate."""
        for track_id in candidate.track_ids:
            state = self._tracks.get(track_id)
            if state is None:
                continue
            state.calls += 1
            state.last_call_s = candidate.frame.monotonic_s
            state.sent_score = max(state.sent_score, candidate.score)
            state.best = None
            state.mask_at_call = state.latest_mask
            state.mask_changes_seen = 0

    def dropped(self, candidate: Candidate) -> None:
        """The candidate was not sent (too old, no budget): its faces start a fresh window."""
        for track_id in candidate.track_ids:
            state = self._tracks.get(track_id)
            if state is not None and state.calls == 0:
                state.best = None
                state.first_seen_s = candidate.frame.monotonic_s

    def decided(self, track_id: str, decided: bool = True) -> None:
        """Whether the answers so far settle this face's state. While they do not (none yet,
        or a later answer disagreed), it is called again every UNDECIDED_RETRY_S."""
        if track_id in self._tracks:
            self._tracks[track_id].undecided = not decided

    def forget(self, track_id: str) -> None:
        self._tracks.pop(track_id, None)
