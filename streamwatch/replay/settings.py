"""The configuration a replay runs: the user's, turned towards one recording and a report.

What decides (selection, budget, tracking, rules) is the configuration's own. What would reach
the world is not: the config's sinks get nothing (events go to the report's events.jsonl), no
live view, status server or window opens, the identity memory stays in memory, and the outbox
lives in a directory of the replay's own.
"""

from __future__ import annotations

from pathlib import Path

from streamwatch.config.model import AnalyzerSettings, CameraSettings, Settings
from streamwatch.config.sinks import JsonLinesSinkSettings
from streamwatch.replay.recording import ReplayError


def pick_camera(settings: Settings, name: str | None) -> CameraSettings:
    """The camera whose settings the recording is played with (the first, unless named)."""
    if name is None:
        return settings.cameras[0]
    for camera in settings.cameras:
        if camera.name == name:
            return camera
    known = ", ".join(camera.name for camera in settings.cameras)
    raise ReplayError(f"--camera {name}: the config has no such camera (it has: {known})")


def replay_settings(
    settings: Settings,
    *,
    camera: CameraSettings,
    source: str,
    realtime: bool,
    analyzer: AnalyzerSettings,
    events_path: Path,
) -> Settings:
    played = camera.model_copy(
        update={
            "source": source,
            "loop": False,
            "realtime": realtime,
            # The report shows each event's face, whether or not the live config sends it.
            "rules": camera.rules.model_copy(update={"crop": True}),
        }
    )
    return settings.model_copy(
        update={
            "cameras": [played],
            "analyzer": analyzer,
            "sinks": [JsonLinesSinkSettings(kind="jsonl", path=str(events_path), rotate_mb=0)],
            "overlay": settings.overlay.model_copy(update={"web": False, "window": False}),
            "status": settings.status.model_copy(update={"enabled": False}),
            "tracking": settings.tracking.model_copy(update={"identity_file": ""}),
        }
    )
