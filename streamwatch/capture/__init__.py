"""Capture: sources, the reader thread per camera, and the newest-frame hand-over (or, for a
fast replay, the every-frame one)."""

from streamwatch.capture.frame import Frame
from streamwatch.capture.latest import CameraClosed, LatestFrame
from streamwatch.capture.reader import CameraReader, CameraState, CameraStats
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
