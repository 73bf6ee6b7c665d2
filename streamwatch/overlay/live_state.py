"""What the pages show beside the picture, as one JSON document per moment.

For each camera: whether its picture is live, how its faces are analysed (cloud ok, on-device
fallback and why, paused for credits, failing), the visitor's message, and the active alarms
(the one to show first). The operator's page shows all of it; the kiosk page only the
visitor's part, which carries no id and no jargon. Pure: a board's scenes and a moment in,
a document out; `GET /state` sends it again whenever it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, assert_never

from streamwatch.analysis.fallback import AnalysisMode, AnalysisState, FallbackReason
from streamwatch.config.serving import OverlaySettings
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.scene import Scene
from streamwatch.overlay.stale import stale_reason
from streamwatch.overlay.style import event_style
from streamwatch.overlay.visitor import visitor_message, visitor_state

_REASON_WORDS: Final = {
    FallbackReason.AUTH: "key refused",
    FallbackReason.CREDITS: "out of credits",
    FallbackReason.CIRCUIT_OPEN: "failing, paused",
    FallbackReason.DAILY_BUDGET: "daily budget spent",
    FallbackReason.FAILED: "failing",
    FallbackReason.TOO_LATE: "too slow",
}


class Level(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # working, a lesser way
    FAILING = "failing"


@dataclass(frozen=True, slots=True)
class Summary:
    level: Level
    text: str


def analysis_summary(state: AnalysisState) -> Summary:
    """The analyzer's state in the operator's words."""
    reason = _REASON_WORDS[state.reason] if state.reason is not None else ""
    match state.mode:
        case AnalysisMode.CLOUD:
            return Summary(Level.OK, "cloud analysis ok")
        case AnalysisMode.LOCAL:
            return Summary(Level.OK, "on-device analysis")
        case AnalysisMode.FALLBACK if state.reason is FallbackReason.CREDITS:
            return Summary(Level.DEGRADED, "cloud paused for credits: on-device fallback")
        case AnalysisMode.FALLBACK:
            return Summary(Level.DEGRADED, f"on-device fallback (cloud: {reason})")
        case AnalysisMode.NONE if state.reason is FallbackReason.CREDITS:
            return Summary(Level.FAILING, "cloud paused for credits: no analysis")
        case AnalysisMode.NONE:
            return Summary(Level.FAILING, f"failing: no analysis (cloud: {reason})")
        case _ as unreachable:
            assert_never(unreachable)


def picture_summary(scene: Scene | None, now_monotonic_s: float, stale_after_s: float) -> Summary:
    if scene is None:
        return Summary(Level.FAILING, "waiting for a picture")
    reason = stale_reason(scene, now_monotonic_s, stale_after_s)
    if reason is not None:
        return Summary(Level.FAILING, reason.removeprefix("STALE: "))
    return Summary(Level.OK, "live")


def live_state(board: SceneBoard, settings: OverlaySettings) -> dict[str, Any]:
    """Every camera's state now, on the board's clock."""
    now_s = board.clock.monotonic_s()
    return {"cameras": [camera_state(board, name, settings, now_s) for name in board.cameras]}


def camera_state(
    board: SceneBoard, camera: str, settings: OverlaySettings, now_monotonic_s: float
) -> dict[str, Any]:
    scene = board.latest(camera)
    alarms = board.alarms(camera)
    state = visitor_state(alarms[0] if alarms else None)
    picture = picture_summary(scene, now_monotonic_s, settings.stale_after_s)
    analysis = None if scene is None or scene.analysis is None else scene.analysis
    return {
        "camera": camera,
        "picture": {"level": picture.level, "text": picture.text},
        "analysis": None if analysis is None else _summary(analysis_summary(analysis)),
        "visitor": {"state": state, "message": visitor_message(state, settings.messages)},
        "alarms": [
            {
                "alert_id": alarm.alert.id,
                "type": alarm.alert.type,
                "words": event_style(alarm.kind)[0],
                "time": alarm.alert.to_cloudevent()["time"],
                "subject": alarm.alert.subject,
                "face_left": alarm.left_s is not None,
            }
            for alarm in alarms
        ],
    }


def _summary(summary: Summary) -> dict[str, str]:
    return {"level": summary.level, "text": summary.text}
