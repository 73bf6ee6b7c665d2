"""Acknowledging alerts: from a request (the pages, the API, MQTT) to an `alert.acknowledged`.

The alert is looked for among the active alarms first, then in the history (an alarm that
ended by time may still be acknowledged: the guard saw it). One alert is acknowledged once:
a second request (a double click, two guards) answers with the first acknowledgement and
makes no event. The event goes to the outbox like any other — unless the camera's
`rules.events` leaves `alert.acknowledged` out — and to the scene board, whose alarms then
end the alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from streamwatch.config.model import Settings
from streamwatch.delivery.dispatcher import Dispatcher
from streamwatch.events.ack import AckOutcome, AckRequest, AckResult, acknowledgement
from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event
from streamwatch.history import History, HistoryError
from streamwatch.overlay.board import SceneBoard

log = logging.getLogger("streamwatch.app")

# Alerts acknowledged by this process, remembered to answer a repeat without the history.
REMEMBERED: Final = 1000
INBOX_SIZE: Final = 100


class Acknowledger:
    def __init__(
        self,
        *,
        node: str,
        board: SceneBoard,
        dispatcher: Dispatcher,
        history: History | None,
        emits: Callable[[str], bool] = lambda camera: True,
        inbox: asyncio.Queue[AckRequest] | None = None,
    ) -> None:
        """`emits(camera)`: whether the camera's rules let alert.acknowledged out; `inbox`:
        where other parts (the MQTT sink's command topic) leave their requests."""
        self._node = node
        self._board = board
        self._dispatcher = dispatcher
        self._history = history
        self._emits = emits
        # Alert id → (its camera, its acknowledgement's id).
        self._done: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self.inbox: asyncio.Queue[AckRequest] = (
            asyncio.Queue(INBOX_SIZE) if inbox is None else inbox
        )

    async def acknowledge(self, request: AckRequest) -> list[AckResult]:
        """Acknowledge the alert the request names, or every active alarm of its camera."""
        if request.alert_id is None:
            assert request.camera is not None
            alarms = self._board.alarms(request.camera) if request.camera in self._cameras else ()
            return [await self._acknowledge(alarm.alert, request) for alarm in alarms]
        done = self._done.get(request.alert_id)
        if done is not None and request.camera in (None, done[0]):
            return [AckResult(AckOutcome.ALREADY, request.alert_id, done[1])]
        alert, known = await self._find(request.alert_id)
        if alert is None or (request.camera is not None and alert.camera != request.camera):
            return [AckResult(known or AckOutcome.UNKNOWN, request.alert_id)]
        return [await self._acknowledge(alert, request)]

    async def serve_inbox(self) -> None:
        """Acknowledge what comes into `inbox` (the MQTT sink's commands), for ever."""
        while True:
            request = await self.inbox.get()
            try:
                results = await self.acknowledge(request)
            except HistoryError as error:  # the history unreadable: this request fails, only
                log.error("acknowledgement via %s not made: %s", request.via, error)
                continue
            for result in results:
                log.info("%s %s: %s", request.via, result.alert_id, result.outcome)

    @property
    def _cameras(self) -> tuple[str, ...]:
        return self._board.cameras

    async def _find(self, alert_id: str) -> tuple[Event | None, AckOutcome | None]:
        alarm = self._board.alarm(alert_id)
        if alarm is not None:
            return alarm.alert, None
        if self._history is None:
            return None, None
        event = await self._history.event(alert_id)
        if event is None:
            return None, None
        if not self._board.alarm_rules.is_alert(event):
            return None, AckOutcome.NOT_AN_ALERT
        return event, None

    async def _acknowledge(self, alert: Event, request: AckRequest) -> AckResult:
        if (done := self._done.get(alert.id)) is not None:
            return AckResult(AckOutcome.ALREADY, alert.id, done[1])
        event = acknowledgement(alert, request, node=self._node)
        # Marked before the first await: a second request meanwhile is a repeat.
        self._remember(alert, event.id)
        if self._board.alarm(alert.id) is None and self._history is not None:
            earlier = await self._history.acknowledgement_of(alert.id)
            if earlier is not None:
                self._remember(alert, earlier)
                return AckResult(AckOutcome.ALREADY, alert.id, earlier)
        if self._emits(alert.camera):
            await self._dispatcher.submit(event)  # on disk when it returns; never raises
        self._board.publish_event(event)
        log.info(
            "alert %s (%s) acknowledged via %s",
            alert.id,
            alert.type,
            request.via,
            extra={"camera": alert.camera},
        )
        return AckResult(AckOutcome.ACKNOWLEDGED, alert.id, event.id)

    def _remember(self, alert: Event, acknowledgement_id: str) -> None:
        self._done[alert.id] = (alert.camera, acknowledgement_id)
        while len(self._done) > REMEMBERED:
            self._done.popitem(last=False)


def emits_acknowledgements(settings: Settings, camera: str) -> bool:
    """Whether the camera's rules let its alert.acknowledged events out."""
    rules = {c.name: c.rules for c in settings.cameras}.get(camera)
    return rules is not None and EventKind.ALERT_ACKNOWLEDGED in rules.events
