"""The web live view: HTML pages, MJPEG streams, snapshots and an event feed (aiohttp).

Two audiences, two kinds of page over one scene board:
    /, /camera/{name}     the operator's (the guard's desk): the picture with boxes and ids,
                          the cameras' and the analyzer's state, the event feed with its
                          history, each alarm with its picture and an Acknowledge button
    /kiosk, /kiosk/{name} the visitor's, full screen: the picture and one large, plain
                          message in the state's colour; no ids, nothing to click
Routes:
    /grid.mjpg            multipart/x-mixed-replace MJPEG of every camera's overlay in a grid
    /stream/{name}.mjpg   MJPEG of one camera's overlay (?landmarks=1|0 overrides the setting;
                          ?view=visitor: the visitor's picture, boxes only)
    /snapshot/{name}.jpg  one JPEG of the drawn overlay
    /events               Server-Sent Events, one CloudEvents JSON document per event
    /static/{file}        the pages' CSS and JavaScript
and the API (overlay.api): the history, alarm pictures, acknowledging, the cameras' state.

Bound to loopback, anyone on this machine may look. With a token (required for any other
address) every route answers 401 without it; see `auth`.

Streams run until the client leaves or the server shuts down: on_shutdown sets `stopping`,
which every open stream also waits on, so shutdown never waits for viewers to go away. At most
`overlay.max_viewers` MJPEG streams run at once (a viewer that never reads still holds its
socket's buffers); the next one gets 503 with a Retry-After until one leaves.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from streamwatch.config.serving import OverlaySettings, is_loopback_host
from streamwatch.history import History
from streamwatch.overlay.api import Acknowledge, Api
from streamwatch.overlay.auth import ACCESS_LOG, PathOnlyAccessLogger, TokenGate
from streamwatch.overlay.board import SceneBoard, Snapshot
from streamwatch.overlay.draw import REDRAW_AFTER_S, DrawOptions, View
from streamwatch.overlay.grid import render_view
from streamwatch.overlay.pages import Pages
from streamwatch.overlay.shared_jpeg import EncodedFrame, SharedJpeg, encode_jpeg
from streamwatch.overlay.stopping import Stopping
from streamwatch.serving import start_site

MJPEG_BOUNDARY: Final = "frame"
# A comment line this often keeps proxies from closing an idle event feed and lets the server
# notice a client that has gone.
SSE_KEEPALIVE_S: Final = 15.0
SSE_RETRY_MS: Final = 1000
# Generous: streams end on the shutdown signal, this only bounds a misbehaving handler.
SHUTDOWN_TIMEOUT_S: Final = 5.0
# A viewer turned away (overlay.max_viewers) may ask again this much later.
VIEWER_RETRY_AFTER_S: Final = 5

_NO_STORE: Final = {"Cache-Control": "no-store"}
# The pages use nothing but their own files: a kiosk may be offline, and the view shows faces.
_PAGE_HEADERS: Final = {
    **_NO_STORE,
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_FLAGS: Final = {"1": True, "true": True, "on": True, "0": False, "false": False, "off": False}


class _LiveView:
    """The request handlers; reads the board, never changes it."""

    def __init__(self, board: SceneBoard, settings: OverlaySettings, stopping: Stopping) -> None:
        self._board = board
        self._settings = settings
        self._pages = Pages(board.cameras, settings)
        self._stopping = stopping
        self._frame_interval_s = 1.0 / settings.stream_fps
        # One shared encoder per (cameras, landmarks, view) someone has asked for.
        self._views: dict[tuple[tuple[str, ...], bool, View], SharedJpeg] = {}
        self._viewers = 0  # MJPEG streams being served, at most settings.max_viewers

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.index)
        app.router.add_get("/camera/{name}", self.camera_page)
        app.router.add_get("/kiosk", self.kiosk_page)
        app.router.add_get("/kiosk/{name}", self.kiosk_page)
        app.router.add_get("/grid.mjpg", self.grid_stream)
        app.router.add_get("/stream/{name}.mjpg", self.camera_stream)
        app.router.add_get("/snapshot/{name}.jpg", self.snapshot)
        app.router.add_get("/events", self.events)
        app.router.add_get("/static/{file}", self.static)
        app.on_shutdown.append(self.on_shutdown)

    async def on_shutdown(self, _app: web.Application) -> None:
        self._stopping.set()

    async def index(self, _request: web.Request) -> web.Response:
        return _page(self._pages.index())

    async def camera_page(self, request: web.Request) -> web.Response:
        camera = self._camera(request)
        return _page(self._pages.camera(camera, show_landmarks=self._landmarks(request)))

    async def kiosk_page(self, request: web.Request) -> web.Response:
        camera = self._camera(request) if "name" in request.match_info else None
        return _page(self._pages.kiosk(camera))

    async def static(self, request: web.Request) -> web.Response:
        static_file = self._pages.static(request.match_info["file"])
        if static_file is None:
            raise web.HTTPNotFound(text="no such file")
        return web.Response(
            body=static_file.body, content_type=static_file.content_type, headers=_PAGE_HEADERS
        )

    async def snapshot(self, request: web.Request) -> web.Response:
        camera = self._camera(request)
        if self._board.latest(camera) is None:
            raise web.HTTPServiceUnavailable(
                text=f"no picture from camera {camera!r} yet", headers={"Retry-After": "1"}
            )
        view = self._view((camera,), self._landmarks(request), _view_of(request))
        encoded = await self._stopping.unless_stopping(view.next_jpeg(None))
        if encoded is None:
            raise web.HTTPServiceUnavailable(text="shutting down")
        return web.Response(body=encoded.jpeg, content_type="image/jpeg", headers=_NO_STORE)

    async def camera_stream(self, request: web.Request) -> web.StreamResponse:
        view = self._view((self._camera(request),), self._landmarks(request), _view_of(request))
        return await self._stream(request, view)

    async def grid_stream(self, request: web.Request) -> web.StreamResponse:
        view = self._view(self._board.cameras, self._landmarks(request), _view_of(request))
        return await self._stream(request, view)

    async def _stream(self, request: web.Request, view: SharedJpeg) -> web.StreamResponse:
        if self._viewers >= self._settings.max_viewers:
            raise web.HTTPServiceUnavailable(
                text=(
                    f"This live view already serves {self._viewers} streams, its most "
                    "(overlay.max_viewers): close one, or raise overlay.max_viewers.\n"
                ),
                headers={**_NO_STORE, "Retry-After": str(VIEWER_RETRY_AFTER_S)},
            )
        self._viewers += 1
        try:
            return await self._serve_stream(request, view)
        finally:
            self._viewers -= 1

    async def _serve_stream(self, request: web.Request, view: SharedJpeg) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                **_NO_STORE,
                "Content-Type": f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
            }
        )
        await response.prepare(request)
        sent: EncodedFrame | None = None
        due_monotonic_s = time.monotonic()
        try:
            while not self._stopping.is_set():
                encoded = await self._stopping.unless_stopping(view.next_jpeg(sent))
                if encoded is None:
                    break
                await response.write(_mjpeg_part(encoded.jpeg))
                sent = encoded
                # Pace at stream_fps; after a stall start afresh instead of sending a burst.
                due_monotonic_s = max(due_monotonic_s + self._frame_interval_s, time.monotonic())
                if await self._stopping.stopped_within(due_monotonic_s - time.monotonic()):
                    break
            await response.write(f"--{MJPEG_BOUNDARY}--\r\n".encode())
        except ConnectionResetError:
            pass  # the viewer went away
        return response

    async def events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={**_NO_STORE, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        async with self._board.subscribe_events() as subscription:
            await response.prepare(request)
            try:
                # Sent once subscribed: a client that has read it will see every later event.
                # A browser that loses the feed tries again after SSE_RETRY_MS (and then
                # reopens its streams: a kiosk is back within a second of a restart).
                await response.write(f": subscribed\n\nretry: {SSE_RETRY_MS}\n\n".encode())
                while not self._stopping.is_set():
                    event = await self._stopping.unless_stopping(
                        anext(subscription), SSE_KEEPALIVE_S
                    )
                    if event is None:
                        if not self._stopping.is_set():
                            await response.write(b": keep-alive\n\n")
                        continue
                    await response.write(f"id: {event.id}\ndata: {event.to_json()}\n\n".encode())
            except ConnectionResetError:
                pass
        return response

    def _camera(self, request: web.Request) -> str:
        camera = request.match_info["name"]
        if camera not in self._board.cameras:
            raise web.HTTPNotFound(text=f"unknown camera {camera!r}")
        return camera

    def _landmarks(self, request: web.Request) -> bool:
        value = request.query.get("landmarks")
        if value is None:
            return self._settings.show_landmarks
        if value.lower() not in _FLAGS:
            raise web.HTTPBadRequest(text="landmarks must be 1 or 0")
        return _FLAGS[value.lower()]

    def _view(self, cameras: tuple[str, ...], show_landmarks: bool, view: View) -> SharedJpeg:
        key = (cameras, show_landmarks, view)
        if key not in self._views:
            options = DrawOptions.from_settings(
                self._settings, show_landmarks=show_landmarks, view=view
            )

            def render(snapshot: Snapshot, now_monotonic_s: float) -> bytes:
                image = render_view(
                    cameras,
                    snapshot.scenes,
                    now_monotonic_s=now_monotonic_s,
                    options=options,
                    width_px=self._settings.stream_width_px,
                )
                return encode_jpeg(image, self._settings.jpeg_quality)

            self._views[key] = SharedJpeg(
                self._board,
                cameras,
                render,
                reuse_for_s=self._frame_interval_s,
                redraw_after_s=REDRAW_AFTER_S,
            )
        return self._views[key]


def _view_of(request: web.Request) -> View:
    try:
        return View(request.query.get("view", View.OPERATOR))
    except ValueError:
        raise web.HTTPBadRequest(text="view must be operator or visitor") from None


def _page(html: str) -> web.Response:
    return web.Response(text=html, content_type="text/html", headers=_PAGE_HEADERS)


def _mjpeg_part(jpeg: bytes) -> bytes:
    header = (
        f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    )
    return header.encode("ascii") + jpeg + b"\r\n"


def build_live_view(
    board: SceneBoard,
    settings: OverlaySettings,
    *,
    history: History | None = None,
    acknowledge: Acknowledge | None = None,
) -> web.Application:
    """The live view as an aiohttp application (start it with `serve_live_view`).

    `history`: where the pages' history and the alarms' pictures come from (None: off);
    `acknowledge`: what makes an acknowledgement (app.acknowledge; None: refused, 503).
    Refuses to build an open live view for an address other machines can reach.
    """
    if settings.token is None and not is_loopback_host(settings.web_host):
        raise ValueError(
            f"the live view on {settings.web_host} would show faces to other machines: "
            "set overlay.token (or token_file), or bind to 127.0.0.1"
        )
    middlewares = []
    if settings.token is not None:
        middlewares.append(TokenGate(settings.token.get_secret_value()).middleware)
    app = web.Application(middlewares=middlewares)
    stopping = Stopping()
    _LiveView(board, settings, stopping).add_routes(app)
    Api(board, settings, stopping, history=history, acknowledge=acknowledge).add_routes(app)
    return app


@dataclass(frozen=True, slots=True)
class LiveViewServer:
    host: str
    port: int  # the bound port: the real one when settings.web_port is 0
    needs_token: bool = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def __str__(self) -> str:
        """The URL, and how to open it when it needs the token (never the token itself)."""
        hint = " (open it once with ?token=<overlay.token>)" if self.needs_token else ""
        return self.url + hint


@asynccontextmanager
async def serve_live_view(
    board: SceneBoard,
    settings: OverlaySettings,
    *,
    history: History | None = None,
    acknowledge: Acknowledge | None = None,
) -> AsyncIterator[LiveViewServer]:
    """Serve the live view on settings.web_host:settings.web_port while the block runs;
    CannotServe when that address cannot be bound."""
    runner = web.AppRunner(
        build_live_view(board, settings, history=history, acknowledge=acknowledge),
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        access_log_class=PathOnlyAccessLogger,
        access_log=ACCESS_LOG,
    )
    await runner.setup()
    try:
        port = await start_site(
            runner,
            settings.web_host,
            settings.web_port,
            server="live view",
            keys="overlay.web_host, overlay.web_port",
        )
        yield LiveViewServer(settings.web_host, port, needs_token=settings.token is not None)
    finally:
        await runner.cleanup()
