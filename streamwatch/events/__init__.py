"""Events: the event model and the rules that decide them."""

from streamwatch.events.camera import CameraHealthRules
from streamwatch.events.model import Event
from streamwatch.events.rules import EventRules

__all__ = ["CameraHealthRules", "Event", "EventRules"]
