"""History: the event store on a thread of its own, for the daemon's async parts.

Three parts use it, none of them ever waiting for the disk on the event loop:
- the outbox's `HistorySink` (history.sink) hands it every event, like any sink, and opens
  and closes it;
- a camera's pipeline hands it the frame an alarm was decided on (`keep_pictures`), before the
  alarm's event goes to the outbox, so the picture is there by the time a page asks for it;
- the live view reads it (`query`, `event`, `picture`, `acknowledgement_of`).
Every call runs on the store's thread, one at a time, in the order given (serial_thread):
the SQLite connection is opened, used and closed there. An hourly `prune` applies the age
limit while no event comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Final, Self

import numpy as np

from streamwatch.analysis.model import Box
from streamwatch.config.history import HistorySettings
from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event
from streamwatch.history.pictures import alarm_pictures
from streamwatch.history.store import (
    FILE_NAME,
    EventQuery,
    EventStore,
    HistoryError,
    HistoryStats,
    Picture,
    Retention,
)
from streamwatch.serial_thread import SerialThread

log = logging.getLogger("streamwatch.history")

PRUNE_EVERY_S: Final = 3600.0
BYTES_PER_MB: Final = 1_000_000
SECONDS_PER_DAY: Final = 86_400.0


class History:
    """The store at `path`, open between `__aenter__` and `__aexit__`."""

    def __init__(
        self,
        path: Path,
        settings: HistorySettings,
        *,
        alarm_kinds: Sequence[EventKind] = (),
        blur_faces: bool = False,
        wall_s: Callable[[], float] = time.time,
        prune_every_s: float = PRUNE_EVERY_S,
    ) -> None:
        """`alarm_kinds`: the events whose pictures are kept (with settings.snapshots);
        `wall_s`: the clock the age limit goes by."""
        self.path = path
        retention = Retention(
            max_events=settings.max_events,
            max_age_s=settings.max_age_days * SECONDS_PER_DAY,
            max_bytes=round(settings.max_mb * BYTES_PER_MB),
        )
        self._store = EventStore(path, retention)
        self._alarm_kinds = frozenset(alarm_kinds) if settings.snapshots else frozenset()
        self._blur_faces = blur_faces
        self._wall_s = wall_s
        self._prune_every_s = prune_every_s
        self._thread = SerialThread("history")
        self._stack = AsyncExitStack()

    @property
    def stats(self) -> HistoryStats:
        """Events and bytes held, drops by reason (in memory: costs nothing to read)."""
        return self._store.stats

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self._thread)
            stack.push_async_callback(
                self._thread.run_to_end, self._store.__exit__, None, None, None
            )
            await self._thread.run(self._store.__enter__)
            await self.prune()
            pruner = asyncio.create_task(self._prune_regularly(), name="history prune")
            stack.push_async_callback(_cancelled, pruner)
            self._stack = stack.pop_all()
        log.info(
            "history %s: %d events, %.1f MB", self.path, self.stats.events, self.stats.bytes / 1e6
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    async def add(self, event: Event) -> None:
        await self._thread.run(self._store.add, event, self._wall_s())

    async def keep_pictures(
        self, events: Sequence[Event], image: np.ndarray, faces: Sequence[Box]
    ) -> None:
        """The frame and the face of each alarm among `events`, decided on `image`, where
        `faces` are (pixelated first with overlay.blur_faces). A failure is logged: the alarm
        goes out all the same, without its picture."""
        alerts = [event for event in events if event.kind in self._alarm_kinds]
        if alerts:
            try:
                await self._thread.run(self._keep_pictures, alerts, image, faces)
            except HistoryError as error:
                log.error("%s: alarm pictures not kept", error)

    async def query(self, query: EventQuery) -> list[str]:
        return await self._thread.run(self._store.query, query)

    async def event(self, event_id: str) -> Event | None:
        return await self._thread.run(self._store.event, event_id)

    async def acknowledgement_of(self, alert_id: str) -> str | None:
        return await self._thread.run(self._store.acknowledgement_of, alert_id)

    async def picture(self, event_id: str, which: Picture) -> bytes | None:
        return await self._thread.run(self._store.picture, event_id, which)

    async def prune(self) -> None:
        await self._thread.run(self._store.prune, self._wall_s())

    # On the thread.

    def _keep_pictures(
        self, alerts: Sequence[Event], image: np.ndarray, faces: Sequence[Box]
    ) -> None:
        for alert in alerts:
            frame, face = alarm_pictures(alert, image, faces, blur=self._blur_faces)
            self._store.keep_pictures(alert.id, frame, face, self._wall_s())

    async def _prune_regularly(self) -> None:
        while True:
            await asyncio.sleep(self._prune_every_s)
            try:
                await self.prune()
            except HistoryError as error:
                log.warning("%s: not pruned this time", error)


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def history_of(
    settings: HistorySettings,
    state_dir: Path,
    *,
    alarm_kinds: Sequence[EventKind],
    blur_faces: bool,
) -> History | None:
    """The history under `state_dir`, not opened yet (its sink opens it); None when off."""
    if not settings.enabled:
        return None
    return History(state_dir / FILE_NAME, settings, alarm_kinds=alarm_kinds, blur_faces=blur_faces)
