"""A new face that is someone answered for a moment ago: described by that answer, no call.

People step out of view and come back: an ASL recording cuts between five signers, a visitor
turns away at the desk. Each comeback is a new track, and its first call would pay for a
state the last answer settled seconds ago. So, with `selection.reuse_answer_s` > 0, a new
face's first call is looked up first: its SFace signature, computed on the candidate's frame
(and kept for the call if one goes after all), near an identity whose settling answer is
younger than reuse_answer_s (events/rules.py remembers them), and the gate reading the same
mask state on this frame, confidently. Then that answer describes the face — with this
frame's box, points and signature — and no call is made. A gate reading that differs or is
unsure, or one face of the frame not remembered, and the call goes as before: a mask put on
or taken off while away is never answered from memory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import numpy as np

from streamwatch.analysis.model import Face, FaceAnalysis, Signature
from streamwatch.events.rules import EventRules
from streamwatch.selection.policy import Candidate
from streamwatch.tracking.identity import RememberedAnswer
from streamwatch.tracking.tracker import Tracker

SignatureOf = Callable[[np.ndarray, Face], Awaitable[Signature | None]]


@dataclass(frozen=True, slots=True)
class Recalled:
    analysis: FaceAnalysis  # what the remembered answers say of the candidate's faces
    age_s: float  # of the oldest answer used


class AnswerRecall:
    """Per camera: first calls answered from the identity memory."""

    def __init__(
        self, *, rules: EventRules, tracker: Tracker, signature_of: SignatureOf, max_age_s: float
    ) -> None:
        self._rules = rules
        self._tracker = tracker
        self._signature_of = signature_of
        self._max_age_s = max_age_s
        # Signatures computed for a lookup, by track: (frame sequence, signature).
        self._signatures: dict[str, tuple[int, Signature]] = {}

    async def recall(self, candidate: Candidate) -> Recalled | None:
        """The candidate's faces as remembered, or None: the call must go."""
        frame = candidate.frame
        now_s = frame.monotonic_s
        if not self._rules.remembers_answers_since(now_s - self._max_age_s):
            return None  # nobody to remember: no signature worth computing
        faces: list[Face] = []
        answers: list[RememberedAnswer] = []
        for gated in candidate.gated:
            if gated.track_id not in candidate.track_ids:
                continue
            track = self._tracker.track(gated.track_id)
            if track is None or gated.face.mask is None:
                return None
            signature = await self._signature_of(frame.image, gated.face)
            if signature is None:
                return None
            self._signatures[gated.track_id] = (frame.sequence, signature)
            answer = self._rules.remembered(track, signature, now_s, max_age_s=self._max_age_s)
            if answer is None or answer.face.mask is not gated.face.mask:
                return None
            answers.append(answer)
            faces.append(
                replace(
                    answer.face,
                    box_px=gated.face.box_px,
                    probability=gated.face.probability,
                    landmarks_px=gated.face.landmarks_px,
                    pupils_px=gated.face.pupils_px,
                    signature=signature,
                )
            )
        if not answers or len(answers) != len(candidate.track_ids):
            return None
        oldest = min(answers, key=lambda a: a.answered_s)
        height_px, width_px = frame.image.shape[:2]
        analysis = FaceAnalysis(
            faces=tuple(faces),
            image_width_px=width_px,
            image_height_px=height_px,
            analyzer=oldest.analyzer,
        )
        return Recalled(analysis, now_s - oldest.answered_s)

    def signature(self, track_id: str, sequence: int) -> Signature | None:
        """The signature a lookup computed for this face in this frame, if any."""
        kept = self._signatures.get(track_id)
        return kept[1] if kept is not None and kept[0] == sequence else None

    def forget(self, track_id: str) -> None:
        self._signatures.pop(track_id, None)
