"""What the visitor is told: one plain message per state, in the site's words, no ids.

The kiosk page and the visitor's picture in the native window both take their message and
colour from here, so the two never disagree.
"""

from __future__ import annotations

from enum import StrEnum
from typing import assert_never

from streamwatch.config.messages import OverlayMessages
from streamwatch.events.kind import EventKind
from streamwatch.overlay.alarm import Alarm


class VisitorState(StrEnum):
    IDLE = "idle"  # nothing to ask: the welcome
    MASKLESS = "maskless"
    MASK_INCORRECT = "mask_incorrect"
    ALERT = "alert"  # another alarm the config adds


def visitor_state(alarm: Alarm | None) -> VisitorState:
    if alarm is None:
        return VisitorState.IDLE
    if alarm.kind is EventKind.FACE_MASKLESS:
        return VisitorState.MASKLESS
    if alarm.kind is EventKind.FACE_MASK_INCORRECT:
        return VisitorState.MASK_INCORRECT
    return VisitorState.ALERT


def visitor_message(state: VisitorState, messages: OverlayMessages) -> str:
    match state:
        case VisitorState.IDLE:
            return messages.welcome
        case VisitorState.MASKLESS:
            return messages.maskless
        case VisitorState.MASK_INCORRECT:
            return messages.mask_incorrect
        case VisitorState.ALERT:
            return messages.alert
        case _:
            assert_never(state)
