"""The alarm state machine, without a browser: what is active, what ends it, what does not."""

from __future__ import annotations

from typing import Any

import pytest

from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event
from streamwatch.overlay.alarm import MAX_ACTIVE_PER_CAMERA, Alarms

HOLD_S = 10.0
KINDS = (EventKind.FACE_MASKLESS, EventKind.FACE_MASK_INCORRECT)


def event(kind: EventKind, track: str = "door-1", camera: str = "door", **data: Any) -> Event:
    return Event.create(kind, node="test", camera=camera, subject=track, data=data)


def acknowledgement(alert: Event) -> Event:
    return Event.create(
        EventKind.ALERT_ACKNOWLEDGED,
        node="test",
        camera=alert.camera,
        subject=alert.subject,
        data={"alert_id": alert.id},
    )


@pytest.fixture
def alarms() -> Alarms:
    return Alarms(KINDS, hold_s=HOLD_S)


def test_a_later_face_left_of_someone_else_does_not_replace_the_active_alert(
    alarms: Alarms,
) -> None:
    alert = event(EventKind.FACE_MASKLESS, "door-1", identity_id="id-1")
    assert alarms.observe(alert, 0.0)
    assert not alarms.observe(event(EventKind.FACE_NEW, "door-2", identity_id="id-2"), 1.0)
    assert not alarms.observe(event(EventKind.FACE_LEFT, "door-2", identity_id="id-2"), 2.0)
    showing = alarms.showing("door", 1000.0)  # their face never left: no time ends it
    assert showing is not None and showing.alert == alert


def test_the_hold_ends_an_alert_once_its_face_left_and_not_before(alarms: Alarms) -> None:
    alert = event(EventKind.FACE_MASKLESS, "door-1", identity_id="id-1")
    alarms.observe(alert, 0.0)
    assert alarms.next_end_s() is None
    assert alarms.observe(event(EventKind.FACE_LEFT, "door-1", identity_id="id-1"), 5.0)
    assert alarms.next_end_s() == 5.0 + HOLD_S
    assert alarms.showing("door", 5.0 + HOLD_S - 0.01) is not None
    assert alarms.showing("door", 5.0 + HOLD_S) is None
    assert alarms.get(alert.id, 5.0 + HOLD_S) is None


def test_the_same_person_leaving_under_another_track_ends_it_too(alarms: Alarms) -> None:
    # The tracker lost and refound them: the visit's face.left names the last track.
    alarms.observe(event(EventKind.FACE_MASKLESS, "door-1", identity_id="id-1"), 0.0)
    alarms.observe(event(EventKind.FACE_LEFT, "door-4", identity_id="id-1"), 3.0)
    assert alarms.showing("door", 3.0 + HOLD_S) is None


def test_without_an_identity_the_track_decides(alarms: Alarms) -> None:
    alarms.observe(event(EventKind.FACE_MASKLESS, "door-1"), 0.0)
    alarms.observe(event(EventKind.FACE_LEFT, "door-2"), 1.0)
    assert alarms.showing("door", 100.0) is not None
    alarms.observe(event(EventKind.FACE_LEFT, "door-1"), 2.0)
    assert alarms.showing("door", 2.0 + HOLD_S) is None


def test_an_acknowledgement_ends_its_alert_at_once_and_only_its(alarms: Alarms) -> None:
    first = event(EventKind.FACE_MASKLESS, "door-1")
    second = event(EventKind.FACE_MASKLESS, "door-2")
    alarms.observe(first, 0.0)
    alarms.observe(second, 1.0)
    assert alarms.observe(acknowledgement(second), 2.0)
    assert [a.alert for a in alarms.active("door", 2.0)] == [first]
    assert not alarms.observe(acknowledgement(second), 3.0)  # twice: nothing more to end


def test_the_most_severe_alert_shows_whatever_came_later(alarms: Alarms) -> None:
    maskless = event(EventKind.FACE_MASKLESS, "door-1")
    incorrect = event(EventKind.FACE_MASK_INCORRECT, "door-2")
    alarms.observe(maskless, 0.0)
    alarms.observe(incorrect, 1.0)  # later, but lesser
    assert [a.alert for a in alarms.active("door", 1.0)] == [maskless, incorrect]
    alarms.observe(acknowledgement(maskless), 2.0)
    showing = alarms.showing("door", 2.0)
    assert showing is not None and showing.alert == incorrect


def test_among_equals_the_newest_shows(alarms: Alarms) -> None:
    older, newer = event(EventKind.FACE_MASKLESS, "door-1"), event(EventKind.FACE_MASKLESS, "d-2")
    alarms.observe(older, 0.0)
    alarms.observe(newer, 1.0)
    showing = alarms.showing("door", 1.0)
    assert showing is not None and showing.alert == newer


def test_cameras_keep_their_own_alarms(alarms: Alarms) -> None:
    alarms.observe(event(EventKind.FACE_MASKLESS, "hall-1", camera="hall"), 0.0)
    alarms.observe(event(EventKind.FACE_LEFT, "hall-1", camera="door"), 1.0)
    assert alarms.showing("door", 1.0) is None
    assert alarms.showing("hall", 100.0) is not None


def test_events_not_configured_as_alarms_are_none(alarms: Alarms) -> None:
    assert not alarms.observe(event(EventKind.FACE_LOW_QUALITY), 0.0)
    assert alarms.showing("door", 0.0) is None
    configured = Alarms((EventKind.FACE_LOW_QUALITY,), hold_s=HOLD_S)
    assert configured.observe(event(EventKind.FACE_LOW_QUALITY), 0.0)


def test_no_hold_ends_it_when_the_face_leaves(alarms: Alarms) -> None:
    now = Alarms(KINDS, hold_s=0.0)
    now.observe(event(EventKind.FACE_MASKLESS), 0.0)
    assert now.observe(event(EventKind.FACE_LEFT), 1.0)
    assert now.showing("door", 1.0) is None


def test_a_camera_whose_faces_never_leave_keeps_a_bounded_number(alarms: Alarms) -> None:
    alarms.observe(event(EventKind.FACE_MASKLESS, "door-0"), 0.0)
    for number in range(1, MAX_ACTIVE_PER_CAMERA + 5):
        alarms.observe(event(EventKind.FACE_MASK_INCORRECT, f"door-{number}"), float(number))
    active = alarms.active("door", 100.0)
    assert len(active) == MAX_ACTIVE_PER_CAMERA
    assert active[0].alert.subject == "door-0"  # the most severe stays; the oldest lesser go
    assert {a.alert.subject for a in active[1:]} == {
        f"door-{n}" for n in range(6, MAX_ACTIVE_PER_CAMERA + 5)
    }
