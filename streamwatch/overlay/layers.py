"""The layers a picture is drawn in: each one small thing, `draw(canvas, scene, now)`.

As supervision's annotators: a view is a stack of layers (overlay.draw.stack), drawn in order
on one canvas, so a new kind of drawing is a new layer, not an edit of every other. Panels
say what they cover (`canvas.take`); the face labels come last and go where nothing is.
A layer keeps no state: the same scene drawn at the same moment gives the same picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

import cv2

from streamwatch.config.messages import OverlayMessages
from streamwatch.overlay.canvas import Canvas, Rect
from streamwatch.overlay.panels import (
    TimeFormat,
    analysis_note,
    banner_opacity,
    draw_alarm,
    draw_banner,
    draw_event_list,
    draw_message,
    draw_stale_badge,
    draw_status,
)
from streamwatch.overlay.privacy import blur_boxes_in_place
from streamwatch.overlay.scene import Scene
from streamwatch.overlay.stale import event_age_s, stale_reason
from streamwatch.overlay.style import (
    FONT,
    LANDMARK_COLOUR,
    MASK_COLOURS,
    VISITOR_COLOURS,
    font_scale,
    readable_on,
    thickness_px,
)
from streamwatch.overlay.visitor import visitor_message, visitor_state
from streamwatch.overlay.words import track_label

# Where a label may go, tried in this order: above the box, below it, inside along its top,
# inside along its bottom; each flush with the box's left edge, then with its right edge.
_LABEL_PLACES: Final = ("above", "below", "top", "bottom")


class Layer(Protocol):
    def draw(self, canvas: Canvas, scene: Scene, now_monotonic_s: float) -> None: ...


@dataclass(frozen=True, slots=True)
class FaceBlur:
    """Privacy: every tracked face pixelated (overlay.privacy)."""

    def draw(self, canvas: Canvas, scene: Scene, now_monotonic_s: float) -> None:
        blur_boxes_in_place(canvas.image, (face.box_px for face in canvas.faces))


@dataclass(frozen=True, slots=True)
class Boxes:
    """A box round each face in the colour of its mask state."""

    def draw(self, canvas: Canvas, scene: Scene, now_monotonic_s: float) -> None:
        line_px = max(2, round(2 * canvas.unit))
        for face in canvas.faces:
            left, top, width, height = face.box_px.as_ints()
            colour = MASK_COLOURS[face.mask]
            cv2.rectangle(canvas.image, (left, top), (left + width, top + height), colour, line_px)


@dataclass(frozen=True, slots=True)
class Landmarks:
    def draw(self, canvas: Canvas, scene: Scene, now_monotonic_s: float) -> None:
        radius_px = max(1, round(1.5 * canvas.unit))
        for face in canvas.faces:
            for point in face.landmarks_px:
                centre = (round(point.x), round(point.y))
                cv2.circle(
                    canvas.image, centre, radius_px, LANDMARK_COLOUR, cv2.FILLED, cv2.LINE_AA
                )
            for pupil in face.pupils_px or ():
                centre = (round(pupil.x), round(pupil.y))
                radius = max(radius_px, round(pupil.radius))
                thickness = thickness_px(canvas.unit)
                cv2.circle(canvas.image, centre, radius, LANDMARK_COLOUR, thickness, cv2.LINE_AA)


@dataclass(frozen=True, slots=True)
class Status:
    """The camera and its frame rate, top left; how faces are analysed when not as set up."""

    def draw(self, canvas: Canvas, scene: Scene, now_monotonic_s: float) -> None:
        note = analysis_note(scene.analysis)
        rect = draw_status(
            canvas.image, scene.frame.camera, scene.fps_in, unit=canvas.unit, analysis_note=note
        )
        canvas.take(rect)


@dataclass(frozen=True, slots=True)
class EventList:
    """The recent events, newest first, under the panels already in the top-left corner."""

    max_events: int
    time_format: TimeFormat

    def draw(self, canvas: Canvas, scene: Scene, now_monotonic_s: float) -> None:
        newest_first = scene.recent_events[::-1][: self.max_events]
        top = max((r.bottom for r in canvas.taken if r.left < canvas.width_px // 2), default=0)
        rect = draw_event_list(
            canvas.image, newest_first, top=top, unit=canvas.unit, time_format=self.time_format
        )
        canvas.take(rect)


@dataclass(frozen=True, slots=True)
class StaleBadge:
    """A red badge, top right, while the picture or its faces cannot be trusted."""

    stale_after_s: float

    def draw(self, canvas: Canvas, scene: Scene, now_monotonic_s: float) -> None:
        reason = stale_reason(scene, now_monotonic_s, self.stale_after_s)
        if reason is not None:
            canvas.take(draw_stale_badge(canvas.image, reason, unit=canvas.unit))


@dataclass(frozen=True, slots=True)
class AlarmFrame:
    """The active alarm, for the operator: a frame in its colour and a bar that stays."""

    time_format: TimeFormat

    def draw(self, canvas: Canvas, scene: Scene, now_monotonic_s: float) -> None:
        if not scene.alarms:
            return
        rect = draw_alarm(
            canvas.image,
            scene.alarms[0].alert,
            others=len(scene.alarms) - 1,
            unit=canvas.unit,
            time_format=self.time_format,
        )
        canvas.take(rect)


@dataclass(frozen=True, slots=True)
class Banner:
    """The newest event across the bottom, fading over `banner_s`; never over an alarm."""

    banner_s: float

    def draw(self, canvas: Canvas, scene: Scene, now_monotonic_s: float) -> None:
        if scene.alarms or not scene.recent_events:
            return
        newest = scene.recent_events[-1]
        opacity = banner_opacity(event_age_s(newest, scene, now_monotonic_s), self.banner_s)
        if opacity > 0:
            canvas.take(draw_banner(canvas.image, newest, opacity=opacity, unit=canvas.unit))


@dataclass(frozen=True, slots=True)
class VisitorMessage:
    """What the visitor is asked, large, in the state's colour: no ids, no jargon."""

    messages: OverlayMessages

    def draw(self, canvas: Canvas, scene: Scene, now_monotonic_s: float) -> None:
        state = visitor_state(scene.alarm)
        text = visitor_message(state, self.messages)
        canvas.take(draw_message(canvas.image, text, VISITOR_COLOURS[state], unit=canvas.unit))


@dataclass(frozen=True, slots=True)
class Labels:
    """Each face's track id and attributes, next to its box where no panel is: drawn last,
    so it can see every panel; a label with no free place is left out, the box stays."""

    def draw(self, canvas: Canvas, scene: Scene, now_monotonic_s: float) -> None:
        for track, face in zip(scene.tracks, canvas.faces, strict=True):
            _label(canvas, track_label(track), face.box_px.as_ints(), MASK_COLOURS[face.mask])


def _label(
    canvas: Canvas,
    text: str,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
) -> None:
    scale, thickness = font_scale(canvas.unit), thickness_px(canvas.unit)
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    pad = max(2, round(3 * canvas.unit))
    width, height = text_w + 2 * pad, text_h + baseline + 2 * pad
    left, top, box_w, box_h = box
    tops = {
        "above": top - height,
        "below": top + box_h,
        "top": top,
        "bottom": top + box_h - height,
    }
    lefts = (max(left, 0), min(left + box_w, canvas.width_px) - width)
    places = [Rect(x, tops[where], width, height) for where in _LABEL_PLACES for x in lefts]
    place = next((rect for rect in places if canvas.is_free(rect)), None)
    if place is None:
        return
    image = canvas.image
    cv2.rectangle(image, (place.left, place.top), (place.right, place.bottom), colour, cv2.FILLED)
    origin = (place.left + pad, place.top + pad + text_h)
    cv2.putText(image, text, origin, FONT, scale, readable_on(colour), thickness, cv2.LINE_AA)
    canvas.take(place)
