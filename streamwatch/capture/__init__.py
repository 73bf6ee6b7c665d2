"""Capture: sources, the reader thread per camera, and the newest-frame hand-over (or, for a
fast replay, the every-frame one)."""

from streamwatch.capture.frame import Frame
from streamwatch.capture.health import CameraHealth, CamerasGone, camera_health
from streamwatch.capture.latest import CameraClosed, LatestFrame
from streamwatch.capture.reader import CameraReader
from streamwatch.capture.sources import SourceError, VideoSource, open_source, redact
from streamwatch.capture.state import CameraState, CameraStats

__all__ = [
    "CameraClosed",
    "CameraHealth",
    "CameraReader",
    "CameraState",
    "CameraStats",
    "CamerasGone",
    "Frame",
    "LatestFrame",
    "SourceError",
    "VideoSource",
    "camera_health",
    "open_source",
    "redact",
]
