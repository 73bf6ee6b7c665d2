"""The configuration a replay runs: the user's, turned towards one recording and a report.

What decides (selection, budget, tracking, rules) is the configuration's own. The built-in
demo camera playing a file is named after the file. What would reach
the world is not: the config's sinks get nothing (events go to the report's events.jsonl), no
live view, status server or window opens, the identity memory stays in memory, and the outbox
lives in a directory of the replay's own.
"""

from __future__ import annotations

import re
from pathlib import Path

from streamwatch.config.model import AnalyzerSettings, CameraSettings, Settings
from streamwatch.config.sinks import JsonLinesSinkSettings
from streamwatch.replay.recording import DEMO, ReplayError


def pick_camera(settings: Settings, name: str | None) -> CameraSettings:
    """The camera whose settings the recording is played with (the first, unless named)."""
    if name is None:
        return settings.cameras[0]
    for camera in settings.cameras:
        if camera.name == name:
            return camera
    known = ", ".join(camera.name for camera in settings.cameras)
    raise ReplayError(f"--camera {name}: the config has no such camera (it has: {known})")


def recording_camera_name(camera: CameraSettings, source: str) -> str:
    """The camera's name, unless it is the built-in demo camera playing a file: then the
    file's (its events and report would otherwise say `demo` of a real recording)."""
    if camera.source != DEMO or source == DEMO:
        return camera.name
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(source).stem).strip("-")[:64]
    return name or "recording"


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
            "name": recording_camera_name(camera, source),
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
