"""Where one camera's events go out: crops and the alarm's picture, then every sink and the
overlay.

An event decided on a picture (`deliver`) gets face crops of it when the camera's rules ask
for them (encoded in a thread), and its picture is kept for the alarm pages before the event
goes out, so a page that shows an alarm finds its picture. Every event (`publish`) the camera
wants is counted, handed to the dispatcher (on disk when it returns) and shown on the overlay.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from streamwatch.analysis.model import Box
from streamwatch.config.model import RuleSettings
from streamwatch.delivery.dispatcher import Dispatcher
from streamwatch.events.crop import with_crops
from streamwatch.events.model import Event
from streamwatch.overlay.board import SceneBoard

from .reports import PipelineCounters


class Evidence(Protocol):
    async def keep_pictures(
        self, events: Sequence[Event], image: np.ndarray, faces: Sequence[Box]
    ) -> None: ...


class EventOutlet:
    """One camera's. `evidence`: keeps the pictures of alarms (the history), None: not kept."""

    def __init__(
        self,
        *,
        rules: RuleSettings,
        dispatcher: Dispatcher,
        board: SceneBoard,
        counters: PipelineCounters,
        recent_events: int,
        evidence: Evidence | None,
    ) -> None:
        self._rules = rules
        self._dispatcher = dispatcher
        self._board = board
        self._counters = counters
        self._evidence = evidence
        self.recent: deque[Event] = deque(maxlen=recent_events)  # for the overlay

    async def deliver(self, events: list[Event], image: np.ndarray, faces: list[Box]) -> None:
        """Events decided on `image`: with crops of it when the camera wants them, and its
        picture kept for the alarm pages (`faces`: where the faces are in it)."""
        if events and self._rules.crop:
            events = await asyncio.to_thread(
                with_crops, events, image, max_bytes=self._rules.crop_max_bytes
            )
        if events and self._evidence is not None:
            await self._evidence.keep_pictures(events, image, faces)
        await self.publish(events)

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            if event.kind not in self._rules.events:
                continue
            self._counters.events += 1
            by_type = self._counters.events_by_type
            by_type[event.kind] = by_type.get(event.kind, 0) + 1
            self.recent.append(event)
            await self._dispatcher.submit(event)  # on disk when it returns; never raises
            self._board.publish_event(event)
