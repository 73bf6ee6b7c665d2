"""A guard's desk without cameras: the scene board with its alarms, a real history and outbox,
the acknowledger, and the live view serving them, wired as the App wires them. Tests publish
pictures and events themselves (as a camera's pipeline would)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamwatch.analysis.model import Box
from streamwatch.app.acknowledge import Acknowledger
from streamwatch.config.history import HistorySettings
from streamwatch.config.serving import OverlaySettings
from streamwatch.delivery import Dispatcher, Sink
from streamwatch.events.ack import AckRequest
from streamwatch.events.model import Event
from streamwatch.history import History, HistorySink
from streamwatch.overlay.alarm import Alarms
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.web import LiveViewServer, serve_live_view

from .dispatching import dispatching


@dataclass
class Desk:
    board: SceneBoard
    history: History
    dispatcher: Dispatcher
    acknowledger: Acknowledger
    server: LiveViewServer

    async def emit(
        self,
        event: Event,
        *,
        image: np.ndarray | None = None,
        faces: Sequence[Box] = (),
    ) -> None:
        """As a camera's pipeline does: the alarm's pictures, the outbox, then the board."""
        if image is not None:
            await self.history.keep_pictures([event], image, faces)
        await self.dispatcher.submit(event)
        self.board.publish_event(event)

    async def delivered(self) -> None:
        """Until every sink (the history too) has every event submitted so far."""
        dispatcher = self.dispatcher
        await dispatcher.wait_until(
            lambda: all(dispatcher.pending(name) == 0 for name in dispatcher.counters)
        )


@asynccontextmanager
async def desk(
    folder: Path,
    *,
    cameras: Sequence[str] = ("door",),
    sinks: Sequence[Sink] = (),
    overlay: OverlaySettings | None = None,
    history: HistorySettings | None = None,
    acks: asyncio.Queue[AckRequest] | None = None,
) -> AsyncIterator[Desk]:
    overlay = overlay or OverlaySettings(web_port=0)
    board = SceneBoard(
        list(cameras), alarms=Alarms(overlay.alarm_events, hold_s=overlay.alarm_hold_s)
    )
    kept = History(
        folder / "history.db",
        history or HistorySettings(),
        alarm_kinds=overlay.alarm_events,
        blur_faces=overlay.blur_faces,
    )
    # The history's sink opens it, as in the App.
    async with dispatching(folder / "outbox.db", [*sinks, HistorySink(kept)]) as dispatcher:
        acknowledger = Acknowledger(
            node="test", board=board, dispatcher=dispatcher, history=kept, inbox=acks
        )
        async with serve_live_view(
            board, overlay, history=kept, acknowledge=acknowledger.acknowledge
        ) as server:
            yield Desk(board, kept, dispatcher, acknowledger, server)
