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
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.model import Box, Mask
from streamwatch.config.serving import OverlaySettings
from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.style import EVENT_STYLES, MASK_COLOURS
from streamwatch.overlay.web import serve_live_view
from tests.support.chromium import CHROMIUM, GUARD_S, headless_chromium, open_page
from tests.support.scenes import make_event, make_frame, make_scene, make_track

TOKEN = "kiosk-token-0123456789abcdef"
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
