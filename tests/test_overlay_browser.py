"""The live view in a real browser: headless Chromium, driven over the DevTools protocol.

The browser starts with a fresh profile and the flags that keep it off the network; it only
ever talks to the live view on 127.0.0.1. The view has a token, so the test also shows how a
browser carries it: the page is opened once with ?token=…, and the MJPEG <img> and the
EventSource then go by the cookie.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest

from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.model import Box, Mask
from streamwatch.config.model import OverlaySettings
from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.style import EVENT_STYLES, MASK_COLOURS
from streamwatch.overlay.web import serve_live_view
from tests.support.scenes import make_event, make_frame, make_scene, make_track

GUARD_S = 30.0  # failure guard only: every wait ends on an event in the page or the browser
TOKEN = "kiosk-token-0123456789abcdef"
CHROMIUM = shutil.which("chromium")
# From shared/INFRA.md: nothing but the page's own requests leave the browser.
OFFLINE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium (Debian: chromium fonts-dejavu-core)"
)

# Resolves once the stream <img> has decoded a picture and the event feed is connected.
PAGE_READY_JS = """
new Promise((resolve) => {
  const image = document.querySelector("img.stream");
  const check = () => {
    if (image.naturalWidth > 0 && document.body.dataset.feed === "open") {
      resolve(true);
      return true;
    }
    return false;
  };
  if (check()) return;
  image.addEventListener("load", check);
  new MutationObserver(check).observe(document.body, {attributes: true});
})
"""
# Resolves with the feed's text once an item about a maskless face has appeared in it.
EVENT_SHOWN_JS = """
new Promise((resolve) => {
  const list = document.getElementById("events");
  const check = () => {
    if (list.textContent.includes("maskless")) { resolve(list.textContent); return true; }
    return false;
  };
  if (!check()) new MutationObserver(check).observe(list, {childList: true, subtree: true});
})
"""
# From now on, a promise of the stream <img> showing a picture of a reopened stream.
AWAIT_REOPENED_STREAM_JS = """
window.streamReopened = new Promise((resolve) => {
  const image = document.querySelector("img.stream");
  image.addEventListener("load", () => {
    if (image.src.includes("reopened=")) resolve(image.src);
  });
});
true
"""
FEED_LOST_JS = """
new Promise((resolve) => {
  const check = () => {
    if (document.body.dataset.feed === "lost") { resolve(true); return true; }
    return false;
  };
  if (!check()) new MutationObserver(check).observe(document.body, {attributes: true});
})
"""
IMAGE_RECT_JS = """
(() => {
  const rect = document.querySelector("img.stream").getBoundingClientRect();
  return [rect.left, rect.top, rect.width, rect.height];
})()
"""


class DevTools:
    """A minimal Chrome DevTools Protocol client: commands, their answers, awaited events."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._awaited: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def expect(self, event: str) -> asyncio.Future[dict[str, Any]]:
        """The next `event` (e.g. "Page.loadEventFired"); ask before causing it."""
        self._awaited[event] = asyncio.get_running_loop().create_future()
        return self._awaited[event]

    async def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        command_id = next(self._ids)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[command_id] = answer
        message: dict[str, Any] = {"id": command_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        await self._socket.send_json(message)
        return await answer

    async def evaluate(self, session: str, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = await self.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session,
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"]["value"]

    async def read_answers(self) -> None:
        async for message in self._socket:
            document = json.loads(message.data)
            if "method" in document:  # an event
                awaited = self._awaited.pop(document["method"], None)
                if awaited is not None:
                    awaited.set_result(document.get("params", {}))
                continue
            answer = self._answers.pop(document["id"])
            if "error" in document:
                answer.set_exception(RuntimeError(f"DevTools: {document['error']}"))
            else:
                answer.set_result(document.get("result", {}))


@asynccontextmanager
async def headless_chromium(profile: Path) -> AsyncIterator[DevTools]:
    assert CHROMIUM is not None
    browser = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *OFFLINE_FLAGS,
        f"--user-data-dir={profile}",
        "--window-size=1000,600",
        "--remote-debugging-port=0",  # on 127.0.0.1, a free port
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert browser.stderr is not None
    try:
        async with asyncio.timeout(GUARD_S):
            while not (line := (await browser.stderr.readline()).decode()).startswith(
                "DevTools listening on "
            ):
                assert line, "Chromium exited before it listened for DevTools"
        endpoint = line.removeprefix("DevTools listening on ").strip()
        # Chromium keeps logging to stderr: read it all, or it blocks on a full pipe.
        async with asyncio.TaskGroup() as tasks:
            drain = tasks.create_task(browser.stderr.read())
            async with aiohttp.ClientSession() as http, http.ws_connect(endpoint) as socket:
                devtools = DevTools(socket)
                reader = tasks.create_task(devtools.read_answers())
                try:
                    yield devtools
                    with suppress(RuntimeError):  # the answer may not come: it is closing
                        await asyncio.wait_for(devtools.call("Browser.close"), GUARD_S)
                finally:
                    reader.cancel()
            await asyncio.wait_for(browser.wait(), GUARD_S)
            await drain
    finally:
        if browser.returncode is None:
            browser.kill()
            await browser.wait()


async def open_page(devtools: DevTools, url: str) -> str:
    """A new tab showing `url`; its session id."""
    target = await devtools.call("Target.createTarget", {"url": "about:blank"})
    attached = await devtools.call(
        "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
    )
    session: str = attached["sessionId"]
    await devtools.call("Page.enable", session=session)
    loaded = devtools.expect("Page.loadEventFired")
    await devtools.call("Page.navigate", {"url": url}, session)
    await loaded  # after the token's redirect, once the page and its script are in
    return session


async def publish_frames(
    board: SceneBoard, picture: np.ndarray, face: Box, events: list[Event]
) -> None:
    """A camera at 15 fps: a real picture, its face tracked without a mask, and `events`."""
    for sequence in itertools.count(1):
        now_s, now_monotonic_s = time.time(), time.monotonic()
        track = make_track(Mask.NONE, box=face, camera="door", last_seen_s=now_monotonic_s)
        frame = make_frame(
            "door", sequence, image=picture.copy(), timestamp_s=now_s, monotonic_s=now_monotonic_s
        )
        board.publish(make_scene(frame, tracks=(track,), events=tuple(events)))
        await asyncio.sleep(1 / 15)  # the camera's pace, not a synchronisation


def near(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 60) -> np.ndarray:
    # Per pixel, the channel furthest from `colour` (numpy types a reduction over an axis Any).
    furthest: np.ndarray = np.abs(image.astype(int) - colour).max(axis=-1)
    return furthest < tolerance


async def test_the_live_view_renders_the_stream_and_the_event_feed_in_chromium(
    media_image: Any, tmp_path: Path
) -> None:
    picture = cv2.resize(media_image("images/faces/obama.jpg"), (640, 360))
    async with LocalAnalyzer() as detector:
        (found,) = detector.analyze_sync(picture).faces
    face = found.box_px
    board = SceneBoard(["door"])
    settings = OverlaySettings(web_port=0, token=TOKEN, stream_width_px=640, stream_fps=15)
    events: list[Event] = []
    async with (
        serve_live_view(board, settings) as server,
        asyncio.TaskGroup() as tasks,
        headless_chromium(tmp_path / "profile") as devtools,
    ):
        camera = tasks.create_task(publish_frames(board, picture, face, events))
        async with asyncio.timeout(GUARD_S):
            session = await open_page(devtools, f"{server.url}camera/door?token={TOKEN}")
            assert await devtools.evaluate(session, PAGE_READY_JS)
            maskless = make_event("door", "face.maskless", time_s=time.time())
            events.append(maskless)  # in the scenes: the picture's banner
            board.publish_event(maskless)  # to the feed
            feed = await devtools.evaluate(session, EVENT_SHOWN_JS)
            address = await devtools.evaluate(session, "location.href")
            left, top, width, _ = await devtools.evaluate(session, IMAGE_RECT_JS)
            scale = width / 640
            banner_rows = slice(round(top + 330 * scale), round(top + 355 * scale))
            banner_columns = slice(round(left), round(left + width))
            while True:  # until a picture drawn after the event is on screen: its banner
                shot = await devtools.call("Page.captureScreenshot", {"format": "png"}, session)
                png = base64.b64decode(shot["data"])
                page = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
                assert page is not None, "Chromium's screenshot did not decode as PNG"
                banner = page[banner_rows, banner_columns]
                if near(banner, EVENT_STYLES[EventKind.FACE_MASKLESS][1]).mean() > 0.5:
                    break
        camera.cancel()

    (tmp_path / "live_view.png").write_bytes(png)
    assert "face.maskless door door-1" in feed
    assert TOKEN not in address  # traded for the cookie, gone from the address bar
    # The box around the face, red for "no mask", where the stream <img> shows it.
    box_left = round(left + face.left * scale)
    face_rows = slice(round(top + face.top * scale), round(top + face.bottom * scale))
    red = MASK_COLOURS[Mask.NONE]
    assert near(page[face_rows, box_left - 3 : box_left + 4], red).any(axis=1).mean() > 0.8
    inside = page[face_rows, box_left + 10 : round(left + face.right * scale) - 10]
    assert near(inside, red).mean() < 0.05  # a box, not a red blot


async def test_a_kiosk_page_comes_back_by_itself_after_a_restart(
    media_image: Any, tmp_path: Path
) -> None:
    picture = cv2.resize(media_image("images/faces/obama.jpg"), (640, 360))
    board = SceneBoard(["door"])
    settings = OverlaySettings(web_port=0, stream_width_px=320)
    async with headless_chromium(tmp_path / "profile") as devtools, asyncio.TaskGroup() as tasks:
        camera = tasks.create_task(publish_frames(board, picture, Box(0, 0, 1, 1), []))
        async with asyncio.timeout(GUARD_S):
            async with serve_live_view(board, settings) as server:
                session = await open_page(devtools, f"{server.url}kiosk/door")
                assert await devtools.evaluate(session, PAGE_READY_JS)
                await devtools.evaluate(session, AWAIT_REOPENED_STREAM_JS)
            # streamwatch stopped: the page notices, and its picture freezes.
            assert await devtools.evaluate(session, FEED_LOST_JS)
            same_port = settings.model_copy(update={"web_port": server.port})
            async with serve_live_view(board, same_port):
                # Back: the feed reconnects, the page reopens its stream, a picture comes.
                reopened = await devtools.evaluate(session, "window.streamReopened")
        camera.cancel()
    assert "/stream/door.mjpg?view=visitor&reopened=" in reopened
