"""Tracking: faces followed over time, and who they are."""

from streamwatch.tracking.identity import IdentityMemory, Recognition
from streamwatch.tracking.track import FrameTime, Track
from streamwatch.tracking.tracker import Tracker, TrackNumbers, TrackUpdate

__all__ = [
    "FrameTime",
    "IdentityMemory",
    "Recognition",
    "Track",
    "TrackNumbers",
    "TrackUpdate",
    "Tracker",
]
