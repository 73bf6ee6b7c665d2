"""Tracking across analyses and the rules that turn tracks into CloudEvents."""

from __future__ import annotations

import json

import pytest

from streamwatch.analysis.model import Box, Face, FaceAnalysis, Mask
from streamwatch.config import TrackingSettings
from streamwatch.config.model import RuleSettings
from streamwatch.events import Event
from streamwatch.events.rules import EventRules
from streamwatch.tracking import FrameTime, Tracker

WALL_S = 1_700_000_000.0  # the wall clock at monotonic time 0 in these tests


def _analysis(*faces: Face) -> FaceAnalysis:
    return FaceAnalysis(faces=faces, image_width_px=640, image_height_px=480, analyzer="test")


def _at(monotonic_s: float) -> FrameTime:
    return FrameTime(monotonic_s, WALL_S + monotonic_s)


def _face(left: float, top: float = 100, size: float = 100, mask: Mask | None = None) -> Face:
    return Face(box_px=Box(left, top, size, size), probability=0.9, mask=mask)


def test_overlapping_boxes_keep_their_track() -> None:
    tracker = Tracker("door", TrackingSettings())
    first = tracker.attach(_analysis(_face(100)), _at(0.0))
    second = tracker.attach(_analysis(_face(110)), _at(0.5))
    assert len(first.new) == 1 and not second.new
    assert second.updated[0].track_id == first.new[0].track_id == "door-1"
    assert second.updated[0].analyses == 2


def test_a_face_walking_in_stays_one_track() -> None:
    # 60 px per analysis: IoU 0.25 → 0.11 as the face moves, but the centre stays close.
    tracker = Tracker("door", TrackingSettings(min_iou=0.2))
    ids = set()
    for step in range(5):
        update = tracker.attach(_analysis(_face(100 + 60 * step)), _at(step * 0.5))
        ids |= {track.track_id for track in update.active}
    assert ids == {"door-1"}


def test_two_distant_faces_are_two_tracks() -> None:
    tracker = Tracker("door", TrackingSettings())
    update = tracker.attach(_analysis(_face(0), _face(400)), _at(0.0))
    assert len(update.new) == 2
    update = tracker.attach(_analysis(_face(405), _face(5)), _at(0.5))
    assert not update.new
    by_id = {track.track_id: track.face.box_px.left for track in update.updated}
    assert by_id == {"door-1": 5, "door-2": 405}


def test_a_face_unseen_for_left_after_s_has_left() -> None:
    tracker = Tracker("door", TrackingSettings(left_after_s=3.0))
    tracker.attach(_analysis(_face(100)), _at(10.0))
    assert not tracker.expire(12.9).left
    left = tracker.expire(13.0).left
    assert [track.track_id for track in left] == ["door-1"]
    assert not tracker.active


def test_rules_emit_new_maskless_once_and_left_with_dwell() -> None:
    tracker = Tracker("door", TrackingSettings(left_after_s=2.0))
    rules = EventRules(
        node="kiosk", camera="door", rules=RuleSettings(), tracking=TrackingSettings()
    )
    events: list[Event] = []
    for t_s, mask in ((100.0, Mask.WORN), (101.0, Mask.NONE), (102.0, Mask.NONE)):
        update = tracker.attach(_analysis(_face(100, mask=mask)), _at(t_s))
        events += rules.apply(update, at=_at(t_s), analyzer="test")
    events += rules.apply(tracker.expire(105.0), at=_at(105.0), analyzer="test")
    assert [event.kind for event in events] == ["face.new", "face.maskless", "face.left"]
    left = events[-1]
    assert left.data["dwell_s"] == 2.0
    assert {event.subject for event in events} == {"door-1"}
    assert events[1].data["face"]["mask"] == "none"


def test_events_are_cloudevents_1_0() -> None:
    tracker = Tracker("door", TrackingSettings())
    rules = EventRules(
        node="kiosk", camera="door", rules=RuleSettings(), tracking=TrackingSettings()
    )
    (event,) = rules.apply(
        tracker.attach(_analysis(_face(100)), _at(0.25)),
        at=_at(0.25),
        analyzer="test",
    )
    document = json.loads(event.to_json())
    assert document["specversion"] == "1.0"
    assert document["type"] == "streamwatch.face.new"
    assert document["source"] == "streamwatch://kiosk/door"
    assert document["subject"] == "door-1"
    assert document["time"].endswith("Z")
    assert document["data"]["frame_time"] == "2023-11-14T22:13:20.250Z"
    assert document["data"]["face"]["box_px"] == {
        "left": 100,
        "top": 100,
        "width": 100,
        "height": 100,
    }
    assert Event.from_cloudevent(document) == event


def test_event_ids_are_unique() -> None:
    ids = {
        Event.create("face.new", node="n", camera="c", subject=None, data={}).id for _ in range(100)
    }
    assert len(ids) == 100


def test_motion_prediction_keeps_a_fast_face_on_its_track() -> None:
    # A face that speeds up to 1.5 box widths per gate run, more than overlap or proximity
    # alone follow: the constant-velocity prediction keeps landing near it.
    tracker = Tracker("door", TrackingSettings())
    ids = set()
    for step, left in enumerate((100, 190, 280, 400, 550, 700)):
        update = tracker.observe([_face(left)], _at(step * 0.2))
        ids |= {track.track_id for track in (*update.new, *update.updated)}
    assert ids == {"door-1"}
    assert tracker.active[0].velocity_px_s[0] > 500


def test_a_late_answer_lands_on_the_track_that_was_there_at_its_frame_time() -> None:
    # Two faces cross: at t=0 A is at 100 and B at 400; by t=1 they swapped places.
    tracker = Tracker("door", TrackingSettings(min_iou=0.2))
    tracker.observe([_face(100), _face(400)], _at(0.0))
    for step in range(1, 6):
        offset = 60 * step
        tracker.observe([_face(100 + offset), _face(400 - offset)], _at(step * 0.2))
    # The analysis of the t=0 frame arrives now: its masked face at 100 is track door-1.
    late = _analysis(_face(100, mask=Mask.WORN), _face(400, mask=Mask.NONE))
    update = tracker.attach(late, _at(0.0))
    masks = {track.track_id: track.face.mask for track in update.analysed}
    assert masks == {"door-1": Mask.WORN, "door-2": Mask.NONE}
    # …and the boxes stay where the faces are now, not where the old frame had them.
    boxes = {track.track_id: track.face.box_px.left for track in update.analysed}
    assert boxes == {"door-1": 400, "door-2": 100}


def test_a_wall_clock_step_neither_ends_the_visit_nor_freezes_the_departure() -> None:
    # An NTP step on a box with no RTC: the wall clock jumps an hour ahead at 10 s and back
    # at 15 s; the monotonic clock runs on. A face is detected at 5 Hz for 20 s, then gone.
    tracking = TrackingSettings(left_after_s=3.0, announce_unanalysed_after_s=5.0)
    tracker = Tracker("door", tracking)
    rules = EventRules(node="kiosk", camera="door", rules=RuleSettings(), tracking=tracking)
    events: list[tuple[float, Event]] = []
    for n in range(150):
        monotonic_s = n * 0.2
        step_s = 3600.0 if 10.0 <= monotonic_s < 15.0 else 0.0
        at = FrameTime(monotonic_s, WALL_S + monotonic_s + step_s)
        faces = [_face(100)] if monotonic_s < 20.0 else []
        update = tracker.observe(faces, at)
        events += [(monotonic_s, e) for e in rules.apply(update, at=at, analyzer="test")]
    assert [(round(t_s, 1), e.kind) for t_s, e in events] == [
        (5.0, "face.new"),
        (22.8, "face.left"),  # last seen at 19.8, left_after_s later: on time
    ]
    left = events[-1][1]
    assert left.data["dwell_s"] == 19.8
    assert left.data["frame_timestamp_s"] == WALL_S + 19.8  # the wall clock, in the payload
    assert left.data["identity_id"] == events[0][1].data["identity_id"]


@pytest.mark.parametrize(("size_px", "announced"), [(100.0, True), (41.0, False)])
def test_a_face_never_analysed_is_announced_only_if_big_enough_for_a_call(
    size_px: float, announced: bool
) -> None:
    # No answer comes (the cloud is down, the budget spent): a face the gate follows for 8 s
    # is announced from its detection after announce_unanalysed_after_s, unless it is too
    # small for a call — it was never going to be analysed (backs_3people: the back of a
    # head, 41 px).
    tracking = TrackingSettings(announce_unanalysed_after_s=5.0)
    tracker = Tracker("door", tracking)
    rules = EventRules(
        node="kiosk",
        camera="door",
        rules=RuleSettings(),
        tracking=tracking,
        analysable_from_px=64,
    )
    kinds = []
    for n in range(40):
        at = _at(n * 0.2)
        update = tracker.observe([_face(100, size=size_px)], at)
        kinds += [e.kind for e in rules.apply(update, at=at, analyzer="test")]
    assert kinds == (["face.new"] if announced else [])


def test_the_camera_s_rules_may_ask_for_unanalysed_faces_smaller_than_a_call() -> None:
    tracking = TrackingSettings(announce_unanalysed_after_s=5.0)
    tracker = Tracker("door", tracking)
    rules = EventRules(
        node="kiosk",
        camera="door",
        rules=RuleSettings(min_face_px=40),
        tracking=tracking,
        analysable_from_px=64,
    )
    kinds = []
    for n in range(40):
        at = _at(n * 0.2)
        update = tracker.observe([_face(100, size=41.0)], at)
        kinds += [e.kind for e in rules.apply(update, at=at, analyzer="test")]
    assert kinds == ["face.new"]
