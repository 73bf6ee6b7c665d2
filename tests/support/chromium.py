"""Headless Chromium for tests (and the docs' screenshots), driven over the DevTools protocol.

The browser starts with a fresh profile and the flags that keep it off the network
(shared/INFRA.md); it only ever talks to servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np

GUARD_S = 30.0  # failure guard only: every wait ends on an event in the page or the browser
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


async def screenshot(devtools: DevTools, session: str) -> np.ndarray:
    """The page as it is on screen now, as a BGR image."""
    shot = await devtools.call("Page.captureScreenshot", {"format": "png"}, session)
    page = cv2.imdecode(np.frombuffer(base64.b64decode(shot["data"]), np.uint8), cv2.IMREAD_COLOR)
    assert page is not None, "Chromium's screenshot did not decode as PNG"
    return page


async def set_viewport(devtools: DevTools, session: str, width_px: int, height_px: int) -> None:
    """The page laid out and drawn as on a screen of this size."""
    await devtools.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width_px, "height": height_px, "deviceScaleFactor": 1, "mobile": False},
        session,
    )


async def click(devtools: DevTools, session: str, selector: str) -> None:
    """A real mouse click (pressed and released) in the middle of the element."""
    left, top, width, height = await devtools.evaluate(
        session,
        f"""(() => {{
          const rect = document.querySelector({json.dumps(selector)}).getBoundingClientRect();
          return [rect.left, rect.top, rect.width, rect.height];
        }})()""",
    )
    where = {"x": left + width / 2, "y": top + height / 2, "button": "left", "clickCount": 1}
    for kind in ("mousePressed", "mouseReleased"):
        await devtools.call("Input.dispatchMouseEvent", {"type": kind, **where}, session)


async def press_key(devtools: DevTools, session: str, key: str) -> None:
    """A key pressed and released on the page (a KeyboardEvent key name: "Enter", "a")."""
    codes = {"Enter": 13}
    code = codes.get(key, ord(key.upper()) if len(key) == 1 else 0)
    for kind in ("keyDown", "keyUp"):
        await devtools.call(
            "Input.dispatchKeyEvent",
            {"type": kind, "key": key, "windowsVirtualKeyCode": code},
            session,
        )
