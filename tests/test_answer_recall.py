"""A new face that is someone answered for a moment ago is described by that answer
(app/recall.py): the real rules, identity memory and tracker, with constructed faces."""

from __future__ import annotations

import math

import numpy as np

from streamwatch.analysis.model import Box, Face, FaceAnalysis, Mask, Qualities, Signature
from streamwatch.app.recall import AnswerRecall
from streamwatch.capture.frame import Frame
from streamwatch.config import TrackingSettings
from streamwatch.config.model import RuleSettings
from streamwatch.events.rules import EventRules
from streamwatch.selection.policy import CallReason, Candidate, GatedFace
from streamwatch.tracking import FrameTime, IdentityMemory, Tracker

MAX_AGE_S = 60.0


def _signature(angle_deg: float) -> Signature:
    radians = math.radians(angle_deg)
    return Signature((math.cos(radians), math.sin(radians), 0.0), "test")


def _face(mask: Mask | None, *, left: float = 100) -> Face:
    return Face(box_px=Box(left, 100, 100, 100), probability=0.9, mask=mask)


class Door:
    """One camera's tracker and rules; every face in it looks like `looks` (a signature)."""

    def __init__(self) -> None:
        settings = TrackingSettings()
        self.tracker = Tracker("door", settings)
        self.identities = IdentityMemory(settings)
        self.rules = EventRules(
            node="n",
            camera="door",
            rules=RuleSettings(),
            tracking=settings,
            identities=self.identities,
        )
        self.looks = _signature(0)
        self.signatures_computed = 0
        self.recall = AnswerRecall(
            rules=self.rules,
            tracker=self.tracker,
            signature_of=self._signature_of,
            max_age_s=MAX_AGE_S,
        )

    async def _signature_of(self, image: np.ndarray, face: Face) -> Signature | None:
        self.signatures_computed += 1
        return self.looks

    def answered(self, at_s: float, mask: Mask) -> None:
        """A call's answer for the face in view: announced, its state settled."""
        analysed = Face(
            box_px=Box(100, 100, 100, 100),
            probability=0.9,
            mask=mask,
            qualities=Qualities(score=95),
            signature=self.looks,
        )
        at = FrameTime(at_s, 1e9 + at_s)
        analysis = FaceAnalysis((analysed,), 640, 480, analyzer="ailab")
        self.rules.apply(self.tracker.attach(analysis, at), at=at, analyzer="ailab")

    def leave(self, at_s: float) -> None:
        self.rules.apply(self.tracker.end_all(), at=FrameTime(at_s, 1e9 + at_s), analyzer="")

    def comes_in(self, at_s: float, gate_reads: Mask | None) -> Candidate:
        """A new face the gate found, due its first call."""
        at = FrameTime(at_s, 1e9 + at_s)
        detection = _face(gate_reads)
        (track,) = self.tracker.observe([detection], at).new
        frame = Frame("door", round(at_s * 15), at.wall_s, at_s, np.zeros((480, 640, 3), np.uint8))
        gated = GatedFace(track.track_id, detection, sharpness=100.0, relative_sharpness=1.0)
        return Candidate(frame, (track.track_id,), CallReason.NEW, 1.0, (gated,))


def _after_a_maskless_visit() -> Door:
    """Someone was answered maskless at 1 s and left at 4 s."""
    door = Door()
    door.answered(1.0, Mask.NONE)
    door.leave(4.0)
    return door


async def test_someone_back_with_the_same_mask_state_is_described_by_their_answer() -> None:
    door = _after_a_maskless_visit()
    candidate = door.comes_in(10.0, gate_reads=Mask.NONE)
    recalled = await door.recall.recall(candidate)
    assert recalled is not None
    (face,) = recalled.analysis.faces
    assert face.mask is Mask.NONE and recalled.analysis.analyzer == "ailab"
    assert recalled.age_s == 9.0
    assert face.box_px == candidate.gated[0].face.box_px  # where the face is now
    # The signature is kept for the call's answer, should one go: computed once.
    assert door.recall.signature(candidate.track_ids[0], candidate.frame.sequence) is door.looks
    assert door.signatures_computed == 1


async def test_a_changed_or_unsure_gate_reading_makes_the_call() -> None:
    door = _after_a_maskless_visit()
    assert await door.recall.recall(door.comes_in(10.0, gate_reads=Mask.WORN)) is None
    door.leave(11.0)
    assert await door.recall.recall(door.comes_in(12.0, gate_reads=None)) is None


async def test_someone_else_or_an_old_answer_makes_the_call() -> None:
    door = _after_a_maskless_visit()
    door.looks = _signature(90)  # cosine distance 1: another person
    assert await door.recall.recall(door.comes_in(10.0, gate_reads=Mask.NONE)) is None
    door.leave(11.0)
    door.looks = _signature(0)
    late = door.comes_in(1.0 + MAX_AGE_S + 0.5, gate_reads=Mask.NONE)
    assert await door.recall.recall(late) is None


async def test_nobody_remembered_costs_no_signature() -> None:
    door = Door()
    assert await door.recall.recall(door.comes_in(1.0, gate_reads=Mask.NONE)) is None
    assert door.signatures_computed == 0


async def test_a_remembered_answer_ages_from_its_call_not_from_its_reuse() -> None:
    # Reused again and again, an answer remembered anew would never grow old: a person
    # coming and going every minute would never be called again.
    door = _after_a_maskless_visit()
    first = door.comes_in(40.0, gate_reads=Mask.NONE)
    recalled = await door.recall.recall(first)
    assert recalled is not None
    at = FrameTime(40.0, 1e9 + 40.0)
    update = door.tracker.attach(recalled.analysis, at)
    door.rules.apply(update, at=at, analyzer="ailab", remembered=True)
    door.leave(45.0)
    late = door.comes_in(1.0 + MAX_AGE_S + 0.5, gate_reads=Mask.NONE)
    assert await door.recall.recall(late) is None
