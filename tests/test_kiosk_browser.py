"""The kiosk and the guard's desk in a real browser (headless Chromium over DevTools).

A live view with a token serves a desk wired as the daemon wires it (history, outbox, a real
webhook receiver as a sink, the acknowledger) and a camera publishing a real picture. The
visitor's page is looked at on a 1080p screen: the message in the DOM, its colour in the
pixels, its size and contrast; the guard's page after a reload, and its Acknowledge button
clicked with the mouse.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest

from streamwatch.analysis.fallback import AnalysisMode, AnalysisState, FallbackReason
from streamwatch.analysis.model import Box
from streamwatch.config.serving import OverlaySettings
from streamwatch.config.sinks import WebhookSinkSettings
from streamwatch.delivery import WebhookSink
from streamwatch.events.model import Event
from streamwatch.overlay.panels import clock_text
from streamwatch.overlay.style import VISITOR_COLOURS
from streamwatch.overlay.visitor import VisitorState
from tests.support.chromium import (
    CHROMIUM,
    GUARD_S,
    DevTools,
    click,
    headless_chromium,
    open_page,
    press_key,
    screenshot,
    set_viewport,
)
from tests.support.desk import Desk, desk
from tests.support.scenes import live_camera
from tests.support.webhook_receiver import WebhookReceiver, webhook_receiver

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium (Debian: chromium fonts-dejavu-core)"
)

TOKEN = "guard-desk-token-0123456789ab"
FACE = Box(250, 60, 150, 190)

# Resolves once the page shows a picture and its feed is connected.
READY_JS = """
new Promise((resolve) => {
  const image = document.querySelector("img.stream");
  const check = () => {
    if (image.naturalWidth > 0 && document.body.dataset.feed === "open") {
      resolve(true); return true;
    }
    return false;
  };
  if (check()) return;
  image.addEventListener("load", check);
  new MutationObserver(check).observe(document.body, {attributes: true});
})
"""
# The kiosk's visitor state once it is `state` (waits for it).
STATE_JS = """
new Promise((resolve) => {
  const check = () => {
    if (document.body.dataset.state === %s) { resolve(true); return true; }
    return false;
  };
  if (!check()) new MutationObserver(check).observe(document.body, {attributes: true});
})
"""
# The message as the visitor sees it: its text, size, colours, and its box on the page.
MESSAGE_JS = """
(() => {
  const message = document.getElementById("message");
  const style = getComputedStyle(message);
  const rect = message.getBoundingClientRect();
  return {
    text: message.innerText, page: document.body.innerText,
    fontPx: parseFloat(style.fontSize), color: style.color, background: style.backgroundColor,
    rect: [rect.left, rect.top, rect.width, rect.height],
  };
})()
"""
# The feed's items once its history is in: [id, time text, text, has a button] each.
HISTORY_JS = """
new Promise((resolve) => {
  const list = document.getElementById("events");
  const done = () => list.dataset.history === "loaded";
  const give = () => resolve([...list.querySelectorAll("li[data-id]")].map((item) => [
    item.dataset.id, item.querySelector(".time").textContent, item.textContent,
    Boolean(item.querySelector("button.ack:not(:disabled)")),
  ]));
  if (done()) { give(); return; }
  new MutationObserver(() => { if (done()) give(); }).observe(list, {attributes: true});
})
"""
# Resolves with the state list's text once it mentions `text`.
STATES_JS = """
new Promise((resolve) => {
  const states = document.getElementById("states");
  const check = () => {
    if (states.textContent.includes(%s)) { resolve(states.textContent); return true; }
    return false;
  };
  if (!check()) new MutationObserver(check).observe(states, {childList: true, subtree: true});
})
"""
# Resolves once the alert's picture in the feed has loaded: its natural size.
SNAPSHOT_JS = """
new Promise((resolve) => {
  const image = document.querySelector("li[data-id='%s'] img.snapshot");
  const give = () => resolve([image.naturalWidth, image.naturalHeight]);
  if (image.complete && image.naturalWidth) give(); else image.addEventListener("load", give);
})
"""


def css_rgb(value: str) -> tuple[int, int, int]:
    red, green, blue = (int(part) for part in value[value.index("(") + 1 : -1].split(",")[:3])
    return red, green, blue


def contrast(first: tuple[int, int, int], second: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""

    def luminance(rgb: tuple[int, int, int]) -> float:
        linear = [c / 255 / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def share_near(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> float:
    furthest: np.ndarray = np.abs(image.astype(int) - colour).max(axis=-1)
    return float((furthest < tolerance).mean())


def alert(kind: str, track: int = 1) -> Event:
    face = {"box_px": {"left": FACE.left, "top": FACE.top, "width": 150, "height": 190}}
    return Event.create(
        kind,
        node="test",
        camera="door",
        subject=f"door-{track}",
        data={"camera": "door", "face": face, "identity_id": f"id-{track}"},
    )


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as running:
        yield running


@pytest.fixture
async def guard(tmp_path: Path, receiver: WebhookReceiver) -> AsyncIterator[Desk]:
    async with aiohttp.ClientSession() as http:
        webhook = WebhookSink(WebhookSinkSettings(kind="webhook", url=receiver.url), http)
        overlay = OverlaySettings(web_port=0, token=TOKEN, stream_width_px=640)
        async with desk(tmp_path, sinks=[webhook], overlay=overlay) as running:
            yield running


@pytest.fixture
def picture(media_image: Any) -> np.ndarray:
    image: np.ndarray = cv2.resize(media_image("images/faces/obama.jpg"), (640, 360))
    return image


async def visitor_screen(devtools: DevTools, session: str) -> tuple[dict[str, Any], np.ndarray]:
    message = await devtools.evaluate(session, MESSAGE_JS)
    left, top, width, height = (round(v) for v in message["rect"])
    page = await screenshot(devtools, session)
    return message, page[top + 4 : top + height - 4, left + 4 : left + width - 4]


async def test_the_kiosk_asks_in_its_colour_until_the_guard_acknowledges(
    guard: Desk, receiver: WebhookReceiver, picture: np.ndarray, tmp_path: Path
) -> None:
    url = guard.server.url
    async with (
        headless_chromium(tmp_path / "profile") as devtools,
        asyncio.TaskGroup() as tasks,
    ):
        camera = tasks.create_task(live_camera(guard.board, "door", picture, FACE))
        async with asyncio.timeout(GUARD_S):
            kiosk = await open_page(devtools, f"{url}kiosk/door?token={TOKEN}")
            await set_viewport(devtools, kiosk, 1920, 1080)
            assert await devtools.evaluate(kiosk, READY_JS)
            idle, idle_band = await visitor_screen(devtools, kiosk)

            maskless = alert("face.maskless")
            await guard.emit(maskless, image=picture, faces=[FACE])
            await devtools.evaluate(kiosk, STATE_JS % json.dumps("maskless"))
            alarmed, alarmed_band = await visitor_screen(devtools, kiosk)

            # The guard's page, in the same browser (the token's cookie), clicks Acknowledge.
            desk_page = await open_page(devtools, f"{url}camera/door")
            items = await devtools.evaluate(desk_page, HISTORY_JS)
            assert [item[0] for item in items if item[3]] == [maskless.id]
            await click(devtools, desk_page, f'li[data-id="{maskless.id}"] button.ack')
            await receiver.wait_until(lambda: bool(receiver.events_of_type("alert.acknowledged")))
            await devtools.evaluate(kiosk, STATE_JS % json.dumps("idle"))
            back = await devtools.evaluate(kiosk, MESSAGE_JS)

            # A mask worn below the nose: amber; the kiosk's key acknowledges it.
            await guard.emit(alert("face.mask_incorrect", track=2))
            await devtools.evaluate(kiosk, STATE_JS % json.dumps("mask_incorrect"))
            incorrect, incorrect_band = await visitor_screen(devtools, kiosk)
            await press_key(devtools, kiosk, "Enter")
            await devtools.evaluate(kiosk, STATE_JS % json.dumps("idle"))
            await receiver.wait_until(
                lambda: len(receiver.events_of_type("alert.acknowledged")) == 2
            )
        camera.cancel()

    cv2.imwrite(str(tmp_path / "kiosk_alarm.png"), alarmed_band)
    assert idle["text"] == "Welcome" and back["text"] == "Welcome"
    assert alarmed["text"] == "Please put on your mask"
    assert incorrect["text"] == "Please wear your mask over your nose"
    # No ids, no event types, nothing technical for the visitor, whatever the state.
    for shown in (idle, alarmed, incorrect):
        assert "door-" not in shown["page"] and "face." not in shown["page"]
        assert "mask" not in shown["page"].replace(shown["text"], "")
    # Readable across a corridor, and in the state's colour, at 4.5:1 or better.
    for shown, band, state in (
        (idle, idle_band, VisitorState.IDLE),
        (alarmed, alarmed_band, VisitorState.MASKLESS),
        (incorrect, incorrect_band, VisitorState.MASK_INCORRECT),
    ):
        assert shown["fontPx"] >= 64
        assert contrast(css_rgb(shown["color"]), css_rgb(shown["background"])) >= 4.5
        assert share_near(band, VISITOR_COLOURS[state]) > 0.5, state
    first, second = receiver.events_of_type("alert.acknowledged")
    assert (first["data"]["alert_id"], first["data"]["via"]) == (maskless.id, "button")
    assert second["data"]["via"] == "key"


async def test_the_guards_page_lists_the_earlier_events_after_a_reload(
    guard: Desk, picture: np.ndarray, tmp_path: Path
) -> None:
    earlier = [alert("face.new"), alert("face.maskless"), alert("face.left")]
    await guard.emit(earlier[0])
    await guard.emit(earlier[1], image=picture, faces=[FACE])
    await guard.emit(earlier[2])
    await guard.delivered()
    fallback = AnalysisState(AnalysisMode.FALLBACK, FallbackReason.CREDITS)
    async with (
        headless_chromium(tmp_path / "profile") as devtools,
        asyncio.TaskGroup() as tasks,
    ):
        camera = tasks.create_task(
            live_camera(guard.board, "door", picture, FACE, analysis=fallback)
        )
        async with asyncio.timeout(GUARD_S):
            page = await open_page(devtools, f"{guard.server.url}camera/door?token={TOKEN}")
            first = await devtools.evaluate(page, HISTORY_JS)
            loaded = guard.server.url + "camera/door"  # the token traded for the cookie
            reloaded = devtools.expect("Page.loadEventFired")
            await devtools.call("Page.reload", {}, page)
            await reloaded
            again = await devtools.evaluate(page, HISTORY_JS)
            states = await devtools.evaluate(page, STATES_JS % json.dumps("credits"))
            snapshot_px = await devtools.evaluate(page, SNAPSHOT_JS % earlier[1].id)
            assert await devtools.evaluate(page, "location.href") == loaded
        camera.cancel()

    newest_first = [e.id for e in reversed(earlier)]
    assert [item[0] for item in first] == newest_first
    assert [item[0] for item in again] == newest_first  # from the history, not the live feed
    # One time format: the page's times are the picture's (time_format, messages.lang).
    assert [item[1] for item in again] == [clock_text(e.time) for e in reversed(earlier)]
    assert "face.maskless door door-1" in again[1][2]
    assert [item[3] for item in again] == [False, True, False]  # only the alert: Acknowledge
    assert "cloud paused for credits: on-device fallback" in states
    assert "picture live" in states
    assert snapshot_px == [640, 360]  # the frame the alarm was decided on, whole
