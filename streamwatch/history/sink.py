"""The history as a sink: it takes every event from the outbox, in order, like any other.

The sink opens and closes its history: the dispatcher enters it inside the state directory's
lock (no second process ever opens this history), and leaves it after its last delivery, once
the cameras and the live view that also use the history have stopped.
"""

from __future__ import annotations

from typing import Final, Self

from streamwatch.delivery.sinks import DeliveryError
from streamwatch.events.model import Event
from streamwatch.history.service import History
from streamwatch.history.store import HistoryError

SINK_NAME: Final = "history"


class HistorySink:
    name = SINK_NAME

    def __init__(self, history: History) -> None:
        self._history = history

    def accepts(self, event_type: str) -> bool:
        return True  # every event: the pages show all of them

    async def deliver(self, event: Event) -> None:
        try:
            await self._history.add(event)
        except HistoryError as error:  # the disk full, the file locked: it may mend
            raise DeliveryError(str(error), retryable=True) from None

    async def __aenter__(self) -> Self:
        await self._history.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._history.__aexit__(*exc_info)
