"""history: the event store on this machine (what happened, and the pictures of alarms)."""

from streamwatch.history.service import History, history_of
from streamwatch.history.sink import HistorySink
from streamwatch.history.store import DropReason, EventQuery, HistoryError, Picture

__all__ = [
    "DropReason",
    "EventQuery",
    "History",
    "HistoryError",
    "HistorySink",
    "Picture",
    "history_of",
]
