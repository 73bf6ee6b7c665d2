"""The live view's API: history, alarm pictures, acknowledging, and the cameras' state.

Routes:
    GET  /api/events?limit=&camera=&type=&since=  {"events": [CloudEvents…]}, newest first
    GET  /api/events/{id}/snapshot.jpg            the frame an alarm was decided on
    GET  /api/events/{id}/face.jpg                its face
    POST /api/alerts/{id}/ack                     acknowledge an alert: an alert.acknowledged
    GET  /api/state                               every camera's state (overlay.live_state)
    GET  /state                                   the same as Server-Sent Events, on change
    GET  /sound                                   overlay.alarm_sound's file, when one is set

`type` takes kinds, comma separated ("face.maskless,face.mask_incorrect"); `since` an RFC
3339 time. The history's routes answer 404 when the history is off. Everything here is
behind the view's token like the rest (auth.TokenGate). An acknowledgement posted by a page of
another site is refused: a browser names the page's origin, and it must be this one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Final

from aiohttp import web

from streamwatch.config.alarms import SOUND_TYPES
from streamwatch.config.serving import OverlaySettings
from streamwatch.events.ack import AckOutcome, AckRequest, AckResult, AckVia
from streamwatch.events.kind import EventKind
from streamwatch.history import EventQuery, History, HistoryError, Picture
from streamwatch.history.store import MAX_LIMIT
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.live_state import live_state
from streamwatch.overlay.stopping import Stopping

# app.acknowledge.Acknowledger.acknowledge: one result per alert.
Acknowledge = Callable[[AckRequest], Awaitable[list[AckResult]]]

SSE_KEEPALIVE_S: Final = 15.0
SSE_RETRY_MS: Final = 1000
# The state's picture part changes with time (a stale picture): looked at again this often.
STATE_TICK_S: Final = 1.0
_NO_STORE: Final = {"Cache-Control": "no-store"}
_PAGE_VIAS: Final = {"button": AckVia.BUTTON, "key": AckVia.KEY}
_STATUS: Final = {
    AckOutcome.ACKNOWLEDGED: 200,
    AckOutcome.ALREADY: 200,
    AckOutcome.NOT_AN_ALERT: 409,
    AckOutcome.UNKNOWN: 404,
}


class Api:
    def __init__(
        self,
        board: SceneBoard,
        settings: OverlaySettings,
        stopping: Stopping,
        *,
        history: History | None,
        acknowledge: Acknowledge | None,
    ) -> None:
        self._board = board
        self._settings = settings
        self._stopping = stopping
        self._history = history
        self._acknowledge = acknowledge

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/events", self.events)
        app.router.add_get("/api/events/{id}/snapshot.jpg", self.snapshot)
        app.router.add_get("/api/events/{id}/face.jpg", self.face)
        app.router.add_post("/api/alerts/{id}/ack", self.ack)
        app.router.add_get("/api/state", self.state)
        app.router.add_get("/state", self.state_feed)
        app.router.add_get("/sound", self.sound)

    async def events(self, request: web.Request) -> web.Response:
        history = self._need_history()
        query = _event_query(request, self._board.cameras)
        try:
            bodies = await history.query(query)
        except HistoryError as error:
            raise web.HTTPServiceUnavailable(text=str(error)) from None
        # The stored documents as they are: no parsing, no re-encoding.
        return web.Response(
            text='{"events":[' + ",".join(bodies) + "]}",
            content_type="application/json",
            headers=_NO_STORE,
        )

    async def snapshot(self, request: web.Request) -> web.Response:
        return await self._picture(request, Picture.FRAME)

    async def face(self, request: web.Request) -> web.Response:
        return await self._picture(request, Picture.FACE)

    async def ack(self, request: web.Request) -> web.Response:
        if self._acknowledge is None:
            raise web.HTTPServiceUnavailable(text="acknowledging needs the running daemon")
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            raise web.HTTPForbidden(text="an acknowledgement from a page of another site")
        body = await _json_body(request)
        via = _PAGE_VIAS.get(str(body.get("via")), AckVia.API)
        ack_request = AckRequest(
            via=via,
            alert_id=request.match_info["id"],
            by=str(body.get("by") or ""),
            address=request.remote,
        )
        try:
            (result,) = await self._acknowledge(ack_request)
        except HistoryError as error:
            raise web.HTTPServiceUnavailable(text=str(error)) from None
        document = {
            "outcome": result.outcome,
            "alert_id": result.alert_id,
            "acknowledgement_id": result.acknowledgement_id,
        }
        return web.json_response(document, status=_STATUS[result.outcome], headers=_NO_STORE)

    async def state(self, _request: web.Request) -> web.Response:
        return web.json_response(live_state(self._board, self._settings), headers=_NO_STORE)

    async def state_feed(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={**_NO_STORE, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        sent: dict[str, object] | None = None
        written_s = time.monotonic()
        try:
            await response.write(f"retry: {SSE_RETRY_MS}\n\n".encode())
            while not self._stopping.is_set():
                state = live_state(self._board, self._settings)
                if state != sent:
                    await response.write(f"data: {json.dumps(state)}\n\n".encode())
                    sent, written_s = state, time.monotonic()
                elif time.monotonic() - written_s >= SSE_KEEPALIVE_S:
                    await response.write(b": keep-alive\n\n")  # finds a client that left
                    written_s = time.monotonic()
                await self._stopping.unless_stopping(self._board.alarms_change(), STATE_TICK_S)
        except ConnectionResetError:
            pass  # the page went away
        return response

    async def sound(self, _request: web.Request) -> web.StreamResponse:
        sound = self._settings.alarm_sound
        if sound in ("off", "tone"):
            raise web.HTTPNotFound(text=f"no sound file (overlay.alarm_sound = {sound!r})")
        path = Path(sound)
        return web.FileResponse(
            path, headers={"Content-Type": SOUND_TYPES[path.suffix.lower()], **_NO_STORE}
        )

    async def _picture(self, request: web.Request, which: Picture) -> web.Response:
        history = self._need_history()
        try:
            jpeg = await history.picture(request.match_info["id"], which)
        except HistoryError as error:
            raise web.HTTPServiceUnavailable(text=str(error)) from None
        if jpeg is None:
            raise web.HTTPNotFound(text=f"no {which} picture kept for this event")
        # An event's pictures never change: a browser may keep them (but only privately).
        return web.Response(
            body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
        )

    def _need_history(self) -> History:
        if self._history is None:
            raise web.HTTPNotFound(text="the history is off ([history] enabled = false)")
        return self._history


def _event_query(request: web.Request, cameras: tuple[str, ...]) -> EventQuery:
    query = request.query
    try:
        limit = int(query.get("limit", "50"))
    except ValueError:
        raise web.HTTPBadRequest(text="limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise web.HTTPBadRequest(text=f"limit must be from 1 to {MAX_LIMIT}")
    camera = query.get("camera") or None
    if camera is not None and camera not in cameras:
        raise web.HTTPBadRequest(text=f"unknown camera {camera!r}; known: {', '.join(cameras)}")
    kinds = []
    for name in filter(None, query.get("type", "").split(",")):
        try:
            kinds.append(EventKind(name.strip().removeprefix("streamwatch.")))
        except ValueError:
            known = ", ".join(kind.value for kind in EventKind)
            raise web.HTTPBadRequest(text=f"unknown type {name!r}; known: {known}") from None
    since = None
    if "since" in query:
        try:
            since = datetime.fromisoformat(query["since"].replace("Z", "+00:00"))
        except ValueError:
            raise web.HTTPBadRequest(text="since must be an RFC 3339 time") from None
        if since.tzinfo is None:
            raise web.HTTPBadRequest(text="since needs its time zone (Z or +01:00)")
    return EventQuery(limit=limit, camera=camera, kinds=tuple(kinds), since=since)


async def _json_body(request: web.Request) -> dict[str, object]:
    """The request's JSON object, or {} when it has no body."""
    if not request.can_read_body:
        return {}
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise web.HTTPBadRequest(text='the body must be JSON, e.g. {"by": "desk 2"}') from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body
