"""Tracking: faces followed over time, and who they are."""

from streamwatch.tracking.identity import IdentityMemory, Recognition
from streamwatch.tracking.track import Track
from streamwatch.tracking.tracker import Tracker, TrackUpdate

__all__ = ["IdentityMemory", "Recognition", "Track", "TrackUpdate", "Tracker"]
