"""How far the picture can be trusted, and how old an event is, at the moment of drawing."""

from __future__ import annotations

from streamwatch.events.model import Event
from streamwatch.overlay.scene import Scene


def stale_reason(scene: Scene, now_monotonic_s: float, stale_after_s: float) -> str | None:
    """Why the picture cannot be trusted, or None while it can.

    Either the camera sent no new picture for `stale_after_s`, or the faces drawn are that much
    older than the picture (the pipeline is stuck). Time without analyses on a camera where
    nothing happens is not staleness: the pipeline dealt with those frames and found nothing.
    """
    picture_age_s = now_monotonic_s - scene.frame.monotonic_s
    if picture_age_s > stale_after_s:
        return f"STALE: no new picture for {picture_age_s:.0f} s"
    if scene.analysed_up_to_monotonic_s is not None:
        lag_s = scene.frame.monotonic_s - scene.analysed_up_to_monotonic_s
        if lag_s > stale_after_s:
            return f"STALE: faces {lag_s:.0f} s behind the picture"
    return None


def event_age_s(event: Event, scene: Scene, now_monotonic_s: float) -> float:
    """How long ago `event` was decided, on the frame's wall clock carried to now."""
    now_wall_s = scene.frame.timestamp_s + (now_monotonic_s - scene.frame.monotonic_s)
    return now_wall_s - event.time.timestamp()
