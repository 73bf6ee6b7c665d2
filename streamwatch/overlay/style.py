"""The overlay's look: colours by state and event kind, the font, sizes that scale."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, assert_never

import cv2

from streamwatch.analysis.model import Mask
from streamwatch.events.kind import EventKind
from streamwatch.overlay.visitor import VisitorState

BGR = tuple[int, int, int]

MASK_COLOURS: Final[Mapping[Mask | None, BGR]] = MappingProxyType(
    {
        Mask.WORN: (0, 200, 0),  # green
        Mask.NONE: (0, 0, 230),  # red
        Mask.INCORRECT: (0, 150, 255),  # orange
        None: (170, 170, 170),  # grey: not known (yet)
    }
)
LANDMARK_COLOUR: Final[BGR] = (255, 255, 0)  # cyan stands apart from every mask colour
STALE_COLOUR: Final[BGR] = (0, 0, 180)
DEGRADED_COLOUR: Final[BGR] = (0, 110, 190)  # amber-brown: working, a lesser way
PANEL_COLOUR: Final[BGR] = (0, 0, 0)
TEXT_COLOUR: Final[BGR] = (255, 255, 255)
_NEUTRAL: Final[BGR] = (110, 110, 110)
# The visitor's message panel, one colour per state; the kiosk page's CSS (static/live.css,
# .visitor.<state>) uses the same colours. Each has a contrast of at least 4.5:1 (WCAG AA)
# with its text colour (readable_on), tested in Chromium.
VISITOR_COLOURS: Final[Mapping[VisitorState, BGR]] = MappingProxyType(
    {
        VisitorState.IDLE: (59, 93, 11),  # #0b5d3b, deep green: welcome
        VisitorState.MASKLESS: (32, 0, 176),  # #b00020, red
        VisitorState.MASK_INCORRECT: (0, 176, 255),  # #ffb000, amber
        VisitorState.ALERT: (143, 61, 26),  # #1a3d8f, blue
    }
)


def _event_style(kind: EventKind) -> tuple[str, BGR]:
    """The banner's words and colour for an event of this kind."""
    news = (200, 120, 0)  # blue: news, not a judgement
    match kind:
        case EventKind.FACE_MASKLESS:
            return "No mask", MASK_COLOURS[Mask.NONE]
        case EventKind.FACE_MASK_INCORRECT:
            return "Mask worn incorrectly", MASK_COLOURS[Mask.INCORRECT]
        case EventKind.FACE_NEW:
            return "New face", news
        case EventKind.FACE_RETURNED:
            return "Face returned", news
        case EventKind.FACE_LEFT:
            return "Face left", _NEUTRAL
        case EventKind.FACE_LOW_QUALITY:
            return "Face not clear enough", _NEUTRAL
        case EventKind.CAMERA_OFFLINE:
            return "Camera offline", STALE_COLOUR
        case EventKind.CAMERA_ONLINE:
            return "Camera online", MASK_COLOURS[Mask.WORN]
        case EventKind.ANALYZER_DEGRADED:
            return "Cloud not answering: on-device analysis", DEGRADED_COLOUR
        case EventKind.ANALYZER_RECOVERED:
            return "Cloud analysis back", MASK_COLOURS[Mask.WORN]
        case EventKind.ALERT_ACKNOWLEDGED:
            return "Alert acknowledged", _NEUTRAL
        case _:
            assert_never(kind)


EVENT_STYLES: Final[Mapping[EventKind, tuple[str, BGR]]] = MappingProxyType(
    {kind: _event_style(kind) for kind in EventKind}
)

FONT: Final = cv2.FONT_HERSHEY_SIMPLEX
# Sizes are designed for a 640 px wide picture and scaled with the output width, so the
# overlay reads the same on a 320 px grid tile and a 1920 px kiosk screen.
_DESIGN_WIDTH_PX: Final = 640.0


def event_style(kind: EventKind) -> tuple[str, BGR]:
    return EVENT_STYLES[kind]


def unit_for(width_px: int) -> float:
    """How many pixels one design pixel is in a picture `width_px` wide."""
    return max(width_px / _DESIGN_WIDTH_PX, 0.8)


def font_scale(unit: float) -> float:
    return 0.45 * unit


def thickness_px(unit: float) -> int:
    return max(1, round(unit))


def readable_on(background: BGR) -> BGR:
    """Black or white, whichever reads better on `background`."""
    blue, green, red = background
    luma = 0.114 * blue + 0.587 * green + 0.299 * red
    return (0, 0, 0) if luma > 110 else (255, 255, 255)
