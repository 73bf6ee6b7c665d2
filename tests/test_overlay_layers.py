"""The picture as a stack of layers: labels clear of the panels, the alarm over the banner, the
visitor's view without ids, and the scene board's alarms."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from streamwatch.analysis.model import Box, Mask
from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event
from streamwatch.overlay.alarm import Alarms
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.canvas import Canvas, Rect
from streamwatch.overlay.draw import DrawOptions, View, draw_scene, stack
from streamwatch.overlay.layers import Labels, Status
from streamwatch.overlay.panels import clock_text
from streamwatch.overlay.style import EVENT_STYLES, MASK_COLOURS, VISITOR_COLOURS
from streamwatch.overlay.visitor import VisitorState
from tests.support.scenes import (
    FRAME_MONOTONIC_S,
    FRAME_TIME_S,
    make_event,
    make_frame,
    make_scene,
    make_track,
)

GUARD_S = 10.0
NOW_S = FRAME_MONOTONIC_S + 0.1
BOTTOM = (slice(335, 360), slice(0, 640))


def pixels_of(image: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(image == colour, axis=-1).sum())


def alarmed_scene(kind: EventKind = EventKind.FACE_MASKLESS) -> tuple[SceneBoard, Event]:
    """A board with one scene of camera "cam" and an active alarm on it."""
    board = SceneBoard(["cam"], alarms=Alarms((kind,), hold_s=10.0))
    alert = make_event("cam", kind, time_s=FRAME_TIME_S)
    board.publish(make_scene(events=(alert,)))
    board.publish_event(alert)
    return board, alert


def test_a_label_at_the_top_left_keeps_clear_of_the_status_and_event_panels() -> None:
    # The face stands just under the panels: on main its label went above the box, over the
    # event list.
    track = make_track(Mask.NONE, box=Box(8, 100, 150, 200))
    events = tuple(make_event(kind="face.new", time_s=FRAME_TIME_S - n) for n in range(5))
    scene = make_scene(tracks=(track,), events=events)
    image = scene.frame.image.copy()
    canvas = Canvas(image, 1.0, (track.face,))
    for layer in stack(DrawOptions()):
        if isinstance(layer, Labels):
            panels = list(canvas.taken)
            assert len(panels) >= 2  # the status and the event list
        layer.draw(canvas, scene, NOW_S)
    (label,) = canvas.taken[len(panels) :]
    assert max(panel.bottom for panel in panels) > 100 - label.height  # above it: covered
    assert not any(label.overlaps(panel) for panel in panels)
    assert pixels_of(
        image[label.top : label.bottom, label.left : label.right], MASK_COLOURS[Mask.NONE]
    )


def test_a_label_with_no_free_place_is_left_out_and_the_box_stays() -> None:
    track = make_track(Mask.NONE, box=Box(0, 0, 640, 360))
    scene = make_scene(tracks=(track,))
    canvas = Canvas(scene.frame.image.copy(), 1.0, (track.face,))
    canvas.take(Rect(0, 0, 640, 360))  # a panel over everything
    Labels().draw(canvas, scene, NOW_S)
    assert len(canvas.taken) == 1


async def test_an_active_alarm_stays_where_a_later_event_would_have_its_banner() -> None:
    board, alert = alarmed_scene()
    left = make_event("cam", "face.left", time_s=FRAME_TIME_S + 1)
    board.publish(make_scene(events=(alert, left)))
    board.publish_event(left)  # a grey "face left" of the same track: the face left
    scene = board.latest("cam")
    assert scene is not None and scene.alarm is not None
    red, grey = EVENT_STYLES[EventKind.FACE_MASKLESS][1], EVENT_STYLES[EventKind.FACE_LEFT][1]
    drawn = draw_scene(scene, now_monotonic_s=NOW_S)
    assert pixels_of(drawn[BOTTOM], red) > 5000
    assert pixels_of(drawn[BOTTOM], grey) == 0
    # The frame round the whole picture is the alarm's too.
    assert drawn[180, 1].tolist() == list(red) and drawn[180, 638].tolist() == list(red)
    # Without the alarm the same events give the newest one's banner: the grey one.
    plain = draw_scene(make_scene(events=(alert, left)), now_monotonic_s=FRAME_MONOTONIC_S + 1)
    assert pixels_of(plain[BOTTOM], grey) > 5000


def test_the_visitors_view_has_boxes_but_no_ids_status_or_events() -> None:
    track = make_track(Mask.NONE)
    scene = make_scene(tracks=(track,), events=(make_event(),))
    operator = draw_scene(scene, now_monotonic_s=NOW_S)
    visitor = draw_scene(scene, now_monotonic_s=NOW_S, options=DrawOptions(view=View.VISITOR))
    top_left = (slice(0, 80), slice(0, 180))
    assert not np.array_equal(operator[top_left], scene.frame.image[top_left])  # status, events
    assert np.array_equal(visitor[top_left], scene.frame.image[top_left])
    above_box = (slice(70, 97), slice(200, 330))  # where the operator's label goes
    assert pixels_of(operator[above_box], MASK_COLOURS[Mask.NONE]) > 1000
    assert pixels_of(visitor[above_box], MASK_COLOURS[Mask.NONE]) == 0
    assert visitor[180, 200].tolist() == list(MASK_COLOURS[Mask.NONE])  # the box


async def test_the_visitors_screen_asks_in_the_state_colour() -> None:
    options = DrawOptions(view=View.VISITOR, visitor_message=True)
    idle = draw_scene(make_scene(), now_monotonic_s=NOW_S, options=options)
    assert pixels_of(idle[BOTTOM], VISITOR_COLOURS[VisitorState.IDLE]) > 5000
    board, _ = alarmed_scene(EventKind.FACE_MASK_INCORRECT)
    scene = board.latest("cam")
    assert scene is not None
    alarmed = draw_scene(scene, now_monotonic_s=NOW_S, options=options)
    assert pixels_of(alarmed[BOTTOM], VISITOR_COLOURS[VisitorState.MASK_INCORRECT]) > 5000


def test_one_time_format_on_the_picture() -> None:
    moment = make_event(time_s=FRAME_TIME_S).time
    local = moment.astimezone()
    assert clock_text(moment) == local.strftime("%H:%M:%S")
    twelve = clock_text(moment, "12h")
    assert twelve.endswith((" AM", " PM")) and len(twelve) == len("01:34:06 PM")


def test_a_new_layer_goes_into_the_stack_not_into_draw_scene() -> None:
    operator = [type(layer) for layer in stack(DrawOptions())]
    assert operator[-1] is Labels and Status in operator
    assert Status not in [type(layer) for layer in stack(DrawOptions(view=View.VISITOR))]


async def test_the_board_hands_out_scenes_with_their_alarms_and_redraws_on_a_change() -> None:
    board = SceneBoard(["cam"], alarms=Alarms((EventKind.FACE_MASKLESS,), hold_s=0.2))
    board.publish(make_scene(make_frame("cam")))
    before = board.snapshot(["cam"]).version
    alert = make_event("cam", "face.maskless")
    board.publish_event(alert)
    assert board.snapshot(["cam"]).version == before + 1  # drawn again at once
    scene = board.latest("cam")
    assert scene is not None and scene.alarm is not None and scene.alarm.alert == alert
    board.publish_event(make_event("cam", "face.left"))
    started_s = time.monotonic()
    async with asyncio.timeout(GUARD_S):
        while board.alarms("cam"):
            await board.alarms_change()  # wakes when the hold runs out
    assert time.monotonic() - started_s >= 0.15
    scene = board.latest("cam")
    assert scene is not None and scene.alarm is None
