"""Tracking: faces followed over time."""

from streamwatch.tracking.track import Track
from streamwatch.tracking.tracker import Tracker, TrackUpdate

__all__ = ["Track", "TrackUpdate", "Tracker"]
