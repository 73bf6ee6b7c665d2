"""Events: the event model and the rules that decide them.

Only the model is re-exported here: the configuration names event kinds, and the rules need
the configuration (import them from streamwatch.events.rules / .camera).
"""

from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event

__all__ = ["Event", "EventKind"]
