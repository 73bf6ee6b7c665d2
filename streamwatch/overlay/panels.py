"""Text on the picture: the status line, the recent events, the stale badge, the banner, the
alarm and the visitor's message.

Each function draws in place on an image the caller made for drawing on, and returns the
rectangle it covered, so the caller can stack the next panel under it (and keep the face
labels out of it: overlay.layers).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final, Literal, assert_never

import cv2
import numpy as np

from streamwatch.analysis.fallback import AnalysisMode, AnalysisState
from streamwatch.events.model import Event
from streamwatch.overlay.canvas import Rect
from streamwatch.overlay.style import (
    BGR,
    DEGRADED_COLOUR,
    FONT,
    PANEL_COLOUR,
    STALE_COLOUR,
    TEXT_COLOUR,
    event_style,
    font_scale,
    readable_on,
    thickness_px,
)

# Translucent, so faces under a panel stay visible.
_PANEL_ALPHA: Final = 0.55
# The banner is fully opaque for the first half of its time, then fades out linearly.
_BANNER_SOLID_SHARE: Final = 0.5


TimeFormat = Literal["24h", "12h"]


def clock_text(moment: datetime, time_format: TimeFormat = "24h") -> str:
    """The local time of day as every picture and page shows it ("13:34:06", "01:34:06 PM");
    the pages' script formats the same way (static/live.js, clockText)."""
    local = moment.astimezone()
    if time_format == "12h":
        return local.strftime("%I:%M:%S ") + ("AM" if local.hour < 12 else "PM")
    return local.strftime("%H:%M:%S")


def event_line(event: Event, time_format: TimeFormat = "24h") -> str:
    """One line of the recent events: local time, kind and subject."""
    clock = clock_text(event.time, time_format)
    return " ".join(part for part in (clock, event.kind, event.subject) if part)


def banner_opacity(age_s: float, banner_s: float) -> float:
    """1 while the event is new, falling to 0 at `banner_s`; 0 for a future event too."""
    if banner_s <= 0 or age_s < -1.0 or age_s >= banner_s:
        return 0.0  # a clock jump must not pin an event on screen: over a second early = off
    solid_s = banner_s * _BANNER_SOLID_SHARE
    return 1.0 if age_s <= solid_s else (banner_s - age_s) / (banner_s - solid_s)


def analysis_note(state: AnalysisState | None) -> str | None:
    """What the status panel adds while faces are analysed a lesser way than configured."""
    if state is None:
        return None
    match state.mode:
        case AnalysisMode.CLOUD | AnalysisMode.LOCAL:
            return None
        case AnalysisMode.FALLBACK:
            return f"on-device analysis (cloud: {state.reason})"
        case AnalysisMode.NONE:
            return f"no analysis (cloud: {state.reason})"
        case _ as unreachable:
            assert_never(unreachable)


def draw_status(
    image: np.ndarray, camera: str, fps_in: float, *, unit: float, analysis_note: str | None = None
) -> Rect:
    """The camera's status line; under it, in the warning colour, how faces are analysed when
    that is not as configured (the on-device fallback). Returns the area both cover."""
    margin = _margin_px(unit)
    status = _panel(image, [f"{camera}  {fps_in:.1f} fps"], left=margin, top=margin, unit=unit)
    if analysis_note is None:
        return status
    note = _panel(
        image,
        [analysis_note],
        left=margin,
        top=status.bottom + margin // 2,
        unit=unit,
        background=DEGRADED_COLOUR,
        alpha=1,
    )
    return Rect(margin, margin, max(status.right, note.right) - margin, note.bottom - margin)


def draw_event_list(
    image: np.ndarray,
    events: Sequence[Event],
    *,
    top: int,
    unit: float,
    time_format: TimeFormat = "24h",
) -> Rect:
    """The events (newest first) as a list under `top`."""
    margin = _margin_px(unit)
    if not events:
        return Rect(margin, top, 0, 0)
    lines = [event_line(event, time_format) for event in events]
    return _panel(image, lines, left=margin, top=top + margin, unit=unit, scale=0.85)


def draw_stale_badge(image: np.ndarray, text: str, *, unit: float) -> Rect:
    margin = _margin_px(unit)
    width = _measure([text], unit, 1.0)[0] + 2 * _pad_px(unit)
    left = max(image.shape[1] - margin - width, 0)
    return _panel(image, [text], left=left, top=margin, unit=unit, background=STALE_COLOUR, alpha=1)


def draw_banner(image: np.ndarray, event: Event, *, opacity: float, unit: float) -> Rect:
    """The event across the bottom of the picture, in its kind's colour, `opacity` visible."""
    words, colour = event_style(event.kind)
    text = "  ".join(part for part in (words, event.subject) if part)
    return draw_bar(image, text, colour, opacity=opacity, unit=unit)


def draw_alarm(
    image: np.ndarray, alert: Event, *, others: int, unit: float, time_format: TimeFormat
) -> Rect:
    """An active alarm: a frame in its colour round the picture, and a bar at the bottom that
    stays until the alarm ends ("ALARM 13:34:06 No mask demo-2 (+1)")."""
    words, colour = event_style(alert.kind)
    border = max(3, round(5 * unit))
    height_px, width_px = image.shape[:2]
    for rows, columns in (
        (slice(0, border), slice(None)),
        (slice(height_px - border, None), slice(None)),
        (slice(None), slice(0, border)),
        (slice(None), slice(width_px - border, None)),
    ):
        image[rows, columns] = colour
    more = f"(+{others})" if others else ""
    parts = ("ALARM", clock_text(alert.time, time_format), words, alert.subject, more)
    return draw_bar(image, "  ".join(p for p in parts if p), colour, opacity=1.0, unit=unit)


def draw_message(image: np.ndarray, text: str, colour: BGR, *, unit: float) -> Rect:
    """The visitor's message, large, across the bottom, in its state's colour. OpenCV's font
    has ASCII only: a message in another script reads well on the kiosk page, not here."""
    return draw_bar(image, text, colour, opacity=1.0, unit=unit, scale=2.6)


def draw_bar(
    image: np.ndarray,
    text: str,
    colour: BGR,
    *,
    opacity: float,
    unit: float,
    scale: float = 1.6,
) -> Rect:
    """Centred text on a band of `colour` across the bottom of the picture, the text made
    smaller when it would not fit across."""
    pad = round(6 * unit)
    height_px, width_px = image.shape[:2]
    text_w, text_h, line_h = _measure([text], unit, scale)
    if text_w > width_px - 2 * pad:
        scale *= max(width_px - 2 * pad, 1) / text_w
        text_w, text_h, line_h = _measure([text], unit, scale)
    rect = Rect(0, max(height_px - line_h - 2 * pad, 0), width_px, min(line_h + 2 * pad, height_px))
    if opacity <= 0:
        return Rect(0, rect.top, 0, 0)
    region = image[rect.top : rect.bottom, :]
    banner = np.empty_like(region)
    banner[:] = colour
    _put(banner, text, (max((width_px - text_w) // 2, pad), pad + text_h), unit, scale, colour)
    region[:] = cv2.addWeighted(banner, opacity, region, 1.0 - opacity, 0.0)
    return rect


def _panel(
    image: np.ndarray,
    lines: Sequence[str],
    *,
    left: int,
    top: int,
    unit: float,
    scale: float = 1.0,
    background: BGR = PANEL_COLOUR,
    alpha: float = _PANEL_ALPHA,
) -> Rect:
    """Lines of text on a panel whose top-left corner is (left, top), clipped to the image."""
    text_w, text_h, line_h = _measure(lines, unit, scale)
    pad = _pad_px(unit)
    image_h, image_w = image.shape[:2]
    rect = Rect(
        left,
        top,
        min(text_w + 2 * pad, image_w - left),
        min(line_h * len(lines) + 2 * pad, image_h - top),
    )
    if rect.width <= 0 or rect.height <= 0:
        return Rect(left, top, 0, 0)
    region = image[rect.top : rect.bottom, rect.left : rect.left + rect.width]
    if alpha >= 1.0:
        region[:] = background
    else:
        # Blending the panel's region only keeps this cheap on a Raspberry-Pi-class CPU.
        fill = np.empty_like(region)
        fill[:] = background
        region[:] = cv2.addWeighted(fill, alpha, region, 1.0 - alpha, 0.0)
    text_colour = TEXT_COLOUR if alpha < 1.0 else readable_on(background)
    for index, line in enumerate(lines):
        baseline_y = top + pad + line_h * index + text_h
        _put(image, line, (left + pad, baseline_y), unit, scale, background, text_colour)
    return rect


def _measure(lines: Sequence[str], unit: float, scale: float) -> tuple[int, int, int]:
    """(widest line, text height above the baseline, line height) of `lines` in pixels."""
    size, thickness = font_scale(unit) * scale, thickness_px(unit * scale)
    measured = [cv2.getTextSize(line, FONT, size, thickness) for line in lines]
    text_h = max(h for (_, h), _ in measured)
    line_h = max(h + baseline for (_, h), baseline in measured) + max(1, round(2 * unit))
    return max(w for (w, _), _ in measured), text_h, line_h


def _put(
    image: np.ndarray,
    text: str,
    origin: tuple[int, int],
    unit: float,
    scale: float,
    background: BGR,
    colour: BGR | None = None,
) -> None:
    cv2.putText(
        image,
        text,
        origin,
        FONT,
        font_scale(unit) * scale,
        readable_on(background) if colour is None else colour,
        thickness_px(unit * scale),
        cv2.LINE_AA,
    )


def _pad_px(unit: float) -> int:
    return max(2, round(4 * unit))


def _margin_px(unit: float) -> int:
    return max(2, round(6 * unit))
