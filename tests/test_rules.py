"""Event rules on constructed analyses: what the media cannot show on demand."""

from __future__ import annotations

import base64
import math
from dataclasses import replace

import cv2
import numpy as np
import pytest

from streamwatch.analysis.model import Box, Face, FaceAnalysis, Mask, Qualities, Signature
from streamwatch.config import TrackingSettings
from streamwatch.config.model import RuleSettings
from streamwatch.events import Event
from streamwatch.events.crop import with_crops
from streamwatch.events.rules import EventRules
from streamwatch.tracking import FrameTime, IdentityMemory, Tracker

WALL_S = 1_700_000_000.0  # the wall clock at monotonic time 0 in these tests


def _at(monotonic_s: float) -> FrameTime:
    return FrameTime(monotonic_s, WALL_S + monotonic_s)


def _signature(angle_deg: float) -> Signature:
    """Unit vectors in a plane: the cosine distance between two is 1 - cos(angle)."""
    radians = math.radians(angle_deg)
    return Signature((math.cos(radians), math.sin(radians), 0.0), "test")


def _face(
    left: float = 100,
    *,
    mask: Mask | None = None,
    quality: float | None = None,
    signature: Signature | None = None,
    size: float = 100,
) -> Face:
    return Face(
        box_px=Box(left, 100, size, size),
        probability=0.9,
        mask=mask,
        qualities=Qualities(score=quality),
        signature=signature,
    )


class Camera:
    """A tracker and the rules of one camera, fed analyses at given times."""

    def __init__(self, rules: RuleSettings | None = None, **tracking: float) -> None:
        settings = TrackingSettings(**tracking)
        self.tracker = Tracker("door", settings)
        self.identities = IdentityMemory(settings)
        self.rules = EventRules(
            node="n",
            camera="door",
            rules=rules or RuleSettings(),
            tracking=settings,
            identities=self.identities,
        )

    def analyse(
        self,
        at_s: float,
        *faces: Face,
        gate_reads: Mask | None = None,
    ) -> list[str]:
        """`gate_reads`: what the local gate read on the same frame, for every face."""
        analysis = FaceAnalysis(faces=faces, image_width_px=640, image_height_px=480, analyzer="t")
        update = self.tracker.attach(analysis, _at(at_s))
        gate_masks = None
        if gate_reads is not None:
            gate_masks = {track.track_id: gate_reads for track in update.analysed}
        return _kinds(self.rules.apply(update, at=_at(at_s), analyzer="t", gate_masks=gate_masks))

    def second(self, at_s: float, gate_reads: Mask) -> list[Event]:
        """The gate's steady reading of the one face in view, a moment after its answer."""
        (track,) = self.tracker.active
        return self.rules.second(track, gate_reads, _at(at_s))

    def wait(self, at_s: float) -> list[str]:
        update = self.tracker.expire(at_s)
        return _kinds(self.rules.apply(update, at=_at(at_s), analyzer="t"))


def _kinds(events: list[Event]) -> list[str]:
    return [event.kind for event in events]


def test_a_badly_worn_mask_is_mask_incorrect_not_maskless() -> None:
    camera = Camera()
    assert camera.analyse(0.0, _face(mask=Mask.INCORRECT)) == ["face.new"]
    assert camera.analyse(1.0, _face(mask=Mask.INCORRECT)) == ["face.mask_incorrect"]


def test_maskless_needs_k_of_n_answers() -> None:
    camera = Camera(RuleSettings(mask_confirm_k=2, mask_confirm_n=3))
    assert camera.analyse(0.0, _face(mask=Mask.NONE)) == ["face.new"]  # 1 of 3: not yet
    assert camera.analyse(1.0, _face(mask=Mask.WORN)) == []
    assert camera.analyse(2.0, _face(mask=Mask.NONE)) == ["face.maskless"]  # 2 of 3
    assert camera.analyse(3.0, _face(mask=Mask.NONE)) == []  # once per face


def test_one_confident_answer_is_enough() -> None:
    camera = Camera(RuleSettings(confident_quality=85))
    assert camera.analyse(0.0, _face(mask=Mask.NONE, quality=92)) == ["face.new", "face.maskless"]


def test_an_answer_the_gate_agrees_with_is_enough() -> None:
    camera = Camera(RuleSettings(mask_confirm_k=2))
    assert camera.analyse(0.0, _face(mask=Mask.NONE), gate_reads=Mask.NONE) == [
        "face.new",
        "face.maskless",
    ]
    assert camera.rules.settled("door-1")


def test_an_answer_the_gate_disagrees_with_waits_for_k_of_n() -> None:
    camera = Camera(RuleSettings(mask_confirm_k=2))
    assert camera.analyse(0.0, _face(mask=Mask.NONE), gate_reads=Mask.WORN) == ["face.new"]
    assert not camera.rules.settled("door-1")  # undecided: the policy calls again
    assert camera.analyse(1.0, _face(mask=Mask.NONE), gate_reads=Mask.WORN) == ["face.maskless"]


def test_the_gate_seconds_no_answer_when_told_not_to() -> None:
    camera = Camera(RuleSettings(mask_confirm_k=2, mask_gate_confirms=False))
    assert camera.analyse(0.0, _face(mask=Mask.NONE), gate_reads=Mask.NONE) == ["face.new"]
    assert camera.analyse(1.0, _face(mask=Mask.NONE), gate_reads=Mask.NONE) == ["face.maskless"]


def test_the_gates_steady_reading_since_seconds_an_answer_as_the_same_frames_would() -> None:
    # An answer the gate could not read in its own frame (unsure there) waited for a second
    # call; the gate's reading held steadily since seconds it instead.
    camera = Camera(RuleSettings(mask_confirm_k=2))
    update = camera.tracker.attach(
        FaceAnalysis((_face(mask=Mask.NONE),), 640, 480, analyzer="local"), _at(0.0)
    )
    note = {"degraded": "credits"}
    answered = camera.rules.apply(update, at=_at(0.0), analyzer="local", note=note)
    assert _kinds(answered) == ["face.new"] and answered[0].data["degraded"] == "credits"
    assert not camera.rules.settled("door-1")
    assert camera.second(0.4, Mask.WORN) == []  # it disagrees: no second opinion
    [alert] = camera.second(0.6, Mask.NONE)
    assert alert.kind == "face.maskless"
    assert alert.data["frame_timestamp_s"] == pytest.approx(WALL_S + 0.6)  # the frame it held in
    # Said as the answer's: who answered, and why the device did.
    assert alert.data["analyzer"] == "local" and alert.data["degraded"] == "credits"
    assert camera.rules.settled("door-1")
    assert camera.second(0.8, Mask.NONE) == []  # settled: nothing more to second


def test_the_gate_seconds_no_later_answer_when_told_not_to() -> None:
    camera = Camera(RuleSettings(mask_confirm_k=2, mask_gate_confirms=False))
    assert camera.analyse(0.0, _face(mask=Mask.NONE)) == ["face.new"]
    assert camera.second(0.6, Mask.NONE) == []
    assert not camera.rules.settled("door-1")


def test_an_alert_re_arms_after_the_cool_down_with_new_evidence() -> None:
    camera = Camera(RuleSettings(mask_confirm_k=2, cooldown_s=60), left_after_s=1000)
    camera.analyse(0.0, _face(mask=Mask.NONE))
    assert camera.analyse(1.0, _face(mask=Mask.NONE)) == ["face.maskless"]
    assert camera.analyse(30.0, _face(mask=Mask.NONE)) == []
    assert camera.analyse(40.0, _face(mask=Mask.NONE)) == []  # confirmed, but cooling down
    assert camera.analyse(70.0, _face(mask=Mask.NONE)) == ["face.maskless"]


def test_a_face_that_comes_back_within_forget_after_s_has_returned() -> None:
    camera = Camera(left_after_s=2.0, forget_after_s=600)
    assert camera.analyse(0.0, _face(signature=_signature(0))) == ["face.new"]
    assert camera.wait(5.0) == ["face.left"]
    # Same person (5° apart in signature space), someone else (80° apart).
    assert camera.analyse(60.0, _face(signature=_signature(5))) == ["face.returned"]
    assert camera.analyse(60.0, _face(400, signature=_signature(80))) == ["face.new"]


def test_a_face_back_after_forget_after_s_is_new_again() -> None:
    camera = Camera(left_after_s=2.0, forget_after_s=30)
    camera.analyse(0.0, _face(signature=_signature(0)))
    camera.wait(5.0)
    assert camera.analyse(100.0, _face(signature=_signature(0))) == ["face.new"]


def test_a_face_refound_under_a_new_track_is_one_visit() -> None:
    # The tracker loses the face (it jumped further than tracking follows) and starts a new
    # track while the old one is still alive: the signature ties them, no second face.new.
    camera = Camera(left_after_s=2.0)
    assert camera.analyse(0.0, _face(100, signature=_signature(0))) == ["face.new"]
    assert camera.analyse(0.5, _face(500, signature=_signature(3))) == []
    assert camera.wait(2.1) == []  # the first track ends; the visit goes on
    assert camera.wait(2.6) == ["face.left"]


def test_faces_outside_the_zone_or_too_small_make_no_events() -> None:
    zone = ((0.0, 0.0), (300.0, 0.0), (300.0, 480.0), (0.0, 480.0))
    camera = Camera(RuleSettings(zone=zone, min_face_px=80))
    assert camera.analyse(0.0, _face(400)) == []  # outside the zone
    assert camera.analyse(0.0, _face(100, size=60)) == []  # too small
    assert camera.analyse(1.0, _face(100, size=100)) == ["face.new"]


def test_low_quality_is_said_once_and_only_for_a_poor_picture() -> None:
    camera = Camera(RuleSettings(low_quality_below=40))
    blurred = replace(_face(), qualities=Qualities(score=20, blur=15, illu=80))
    assert camera.analyse(0.0, blurred) == ["face.new", "face.low_quality"]
    assert camera.analyse(1.0, blurred) == []
    # A low overall score from a mask (lower-face occlusion) is not a poor picture.
    masked = replace(_face(400), qualities=Qualities(score=20, mask=10, blur=90, illu=85))
    assert camera.analyse(2.0, masked) == ["face.new"]


def test_silenced_events_are_not_emitted() -> None:
    camera = Camera(RuleSettings(events=("face.maskless",), confident_quality=50))
    assert camera.analyse(0.0, _face(mask=Mask.NONE, quality=90)) == ["face.maskless"]


def test_unknown_event_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown event 'face\.nwe'"):
        RuleSettings(events=("face.nwe",))


def test_the_crop_is_a_jpeg_of_the_face_under_its_byte_cap() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)  # incompressible noise
    settings = TrackingSettings()
    rules = EventRules(
        node="n",
        camera="door",
        rules=RuleSettings(),
        tracking=settings,
    )
    tracker = Tracker("door", settings)
    analysis = FaceAnalysis(faces=(_face(),), image_width_px=640, image_height_px=480, analyzer="t")
    events = rules.apply(tracker.attach(analysis, _at(0.0)), at=_at(0.0), analyzer="t")
    (event,) = with_crops(events, image, max_bytes=5000)
    jpeg = base64.b64decode(event.data["crop_jpeg_base64"])
    assert len(jpeg) <= 5000
    crop = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and crop.shape[0] > 16
    assert "signature" not in event.to_json()


def test_a_face_is_settled_once_its_state_is_confirmed_and_unsettled_by_a_disagreement() -> None:
    camera = Camera(RuleSettings(mask_confirm_k=2))
    camera.analyse(0.0, _face(mask=Mask.NONE))
    (track,) = camera.tracker.active
    assert not camera.rules.settled(track.track_id)  # one answer of two
    assert camera.analyse(1.0, _face(mask=Mask.NONE)) == ["face.maskless"]
    assert camera.rules.settled(track.track_id)  # confirmed: no more calls needed for it
    camera.analyse(2.0, _face(mask=Mask.WORN))
    assert not camera.rules.settled(track.track_id)  # put a mask on: look again
