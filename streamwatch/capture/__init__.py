"""Capture: sources, the reader thread per camera, and the newest-frame hand-over."""

from streamwatch.capture.frame import Frame
from streamwatch.capture.reader import (
    CameraClosed,
    CameraReader,
    CameraState,
    CameraStats,
    LatestFrame,
)
from streamwatch.capture.sources import SourceError, VideoSource, open_source, redact

__all__ = [
    "CameraClosed",
    "CameraReader",
    "CameraState",
    "CameraStats",
    "Frame",
    "LatestFrame",
    "SourceError",
    "VideoSource",
    "open_source",
    "redact",
]
