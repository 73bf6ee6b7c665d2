"""The native window on a real X server: `streamwatch run --window` on a real clip under Xvfb.

Screenshots come from xwd (Debian x11-apps), keys from xdotool (XTEST), and where the face is
from the local face detector run on the screenshot itself — so the test checks what a person
in front of the screen would see: a box in a mask-state colour around each face.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.model import Box
from streamwatch.overlay.grid import grid_tiles
from streamwatch.overlay.style import BGR, LANDMARK_COLOUR, MASK_COLOURS
from streamwatch.overlay.window import gui_backend

GUARD_S = 30.0  # failure guard only: every wait ends as soon as its condition holds
PRESS_EFFECT_S = 10.0  # a key's effect not seen by then: the key is pressed again
CLIP = "videos/asl_5people_sequence.mp4"  # one frontal face per frame, no mask
SCREEN_PX = (1280, 800)
WINDOW_WIDTH_PX = 962  # two 480 px tiles and a 2 px gap
FIRST_DISPLAY = 50  # clear of a desktop's own displays
APP_LOG_LINES = 5  # of the app's log, in a failure's message

pytestmark = [
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("Xvfb", "xwd", "xdotool")),
        reason="needs Xvfb, xwd and xdotool (Debian: xvfb x11-apps xdotool)",
    ),
    pytest.mark.skipif(
        gui_backend(cv2.getBuildInformation()) is None,
        reason="this OpenCV has no GUI (opencv-python-headless shadows opencv-python)",
    ),
]


@pytest.fixture
def x_display() -> Iterator[str]:
    """A fresh Xvfb on a free display number, stopped afterwards.

    Not `-displayfd`: with it, this Xvfb (21.1) sometimes removes its socket file in
    /tmp/.X11-unix while it runs (3 starts in 8), leaving only the abstract socket, and the Qt
    in opencv-python cannot connect without the file: the app aborted at start ("could not
    connect to display") in 5 of 12 starts. A number picked here, with the socket file as the
    ready signal: 0 aborts in 24, under load too.
    """
    screen = "{}x{}x24".format(*SCREEN_PX)
    for number in range(FIRST_DISPLAY, FIRST_DISPLAY + 50):
        if Path(f"/tmp/.X{number}-lock").exists():
            continue
        server = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", screen, "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        socket_file = Path(f"/tmp/.X11-unix/X{number}")
        deadline_s = time.monotonic() + GUARD_S
        # Without -displayfd, the socket file is the only sign that Xvfb is ready: polled.
        while not socket_file.exists() and server.poll() is None:
            assert time.monotonic() < deadline_s, "Xvfb did not start"
            time.sleep(0.01)
        if server.poll() is not None:
            continue  # that display was taken after all
        try:
            yield f":{number}"
        finally:
            server.terminate()
            server.wait(timeout=GUARD_S)
        return
    pytest.fail("no free X display number for Xvfb")


def read_xwd(data: bytes) -> np.ndarray:
    """A BGR image from an X window dump (TrueColor, 24 or 32 bits per pixel)."""
    fields = struct.unpack(">25I", data[:100])
    header_size, width, height = fields[0], fields[4], fields[5]
    byte_order, bits_per_pixel, bytes_per_line = fields[7], fields[11], fields[12]
    masks, colour_count = fields[14:17], fields[19]
    bytes_per_pixel = bits_per_pixel // 8
    rows = np.frombuffer(data, np.uint8, height * bytes_per_line, header_size + 12 * colour_count)
    raw = rows.reshape(height, bytes_per_line)[:, : width * bytes_per_pixel]
    raw = raw.reshape(height, width, bytes_per_pixel).astype(np.uint32)
    order = range(bytes_per_pixel) if byte_order == 0 else reversed(range(bytes_per_pixel))
    # Started from a black image, not 0, the sum is an image for the type checker too.
    pixels = sum(
        (raw[:, :, index] << (8 * place) for place, index in enumerate(order)),
        np.zeros((height, width), np.uint32),
    )

    def channel(mask: int) -> np.ndarray:
        shift = (mask & -mask).bit_length() - 1
        return ((pixels & mask) >> shift).astype(np.uint8)

    red, green, blue = (channel(mask) for mask in masks)
    return np.dstack([blue, green, red])


async def run_tool(display: str, *command: str, check: bool = True) -> bytes | None:
    tool = await asyncio.create_subprocess_exec(
        *command,
        env={**os.environ, "DISPLAY": display},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    output, _ = await tool.communicate()
    assert tool.returncode == 0 or not check, f"{command[0]} failed"
    return output if tool.returncode == 0 else None


async def window_picture(display: str, height_px: int) -> np.ndarray:
    """The top-left `height_px` x WINDOW_WIDTH_PX of the screen (where the window opens)."""
    while True:
        # While a window is being mapped, X may refuse a moment's GetImage (BadMatch).
        dump = await run_tool(display, "xwd", "-root", "-silent", check=False)
        if dump is not None:
            return read_xwd(dump)[:height_px, :WINDOW_WIDTH_PX]


@contextlib.asynccontextmanager
async def guard(awaited: str, explain: Callable[[], str] = str) -> AsyncIterator[None]:
    """A failure guard for one step, naming what did not come (and `explain()`: more)."""
    try:
        async with asyncio.timeout(GUARD_S):
            yield
    except TimeoutError:
        pytest.fail(f"no {awaited} within {GUARD_S:.0f} s {explain()}".rstrip())


async def press_until(
    display: str, key: str, done: Callable[[], Awaitable[bool]], awaited: str
) -> None:
    """Press `key` until `done()`, again after PRESS_EFFECT_S without its effect: twice a
    CI run saw a press take no effect within 30 s (once 'f', once an unknown step), which 20
    runs here, alone and under load, never reproduced."""
    async with guard(awaited):
        while True:
            await press(display, key)
            pressed_s = time.monotonic()
            while time.monotonic() - pressed_s < PRESS_EFFECT_S:
                if await done():
                    return


async def press(display: str, key: str) -> None:
    # --sync: the key goes out only once X has moved the focus to the window.
    await run_tool(display, "xdotool", "search", "--name", "^streamwatch$", "windowfocus", "--sync")
    await run_tool(display, "xdotool", "key", key)


async def window_size(display: str) -> tuple[int, int]:
    found = await run_tool(display, "xdotool", "search", "--name", "^streamwatch$")
    assert found is not None
    shell = await run_tool(
        display, "xdotool", "getwindowgeometry", "--shell", found.split()[0].decode()
    )
    assert shell is not None
    geometry = dict(line.split("=", 1) for line in shell.decode().split())
    return int(geometry["WIDTH"]), int(geometry["HEIGHT"])


def rectangle_colour(image: np.ndarray, face: Box) -> BGR | None:
    """The mask-state colour of a rectangle drawn around `face` (each side within 15 % of
    the face's size from the detected edge, covering most of it), None when there is none."""
    left, top, width, height = face.as_ints()
    slack_x, slack_y = max(3, width * 15 // 100), max(3, height * 15 // 100)
    for colour in MASK_COLOURS.values():
        painted = np.all(image == colour, axis=-1)
        rows = painted[top : top + height]
        columns = painted[:, left : left + width]
        sides = (
            rows[:, max(left - slack_x, 0) : left + slack_x].mean(axis=0),  # left edge
            rows[:, left + width - slack_x : left + width + slack_x].mean(axis=0),  # right
            columns[max(top - slack_y, 0) : top + slack_y].mean(axis=1),  # top
            columns[top + height - slack_y : top + height + slack_y].mean(axis=1),  # bottom
        )
        if all(side.size and side.max() > 0.6 for side in sides):
            return colour
    return None


def boxed_faces(window: np.ndarray, detector: LocalAnalyzer) -> list[BGR | None]:
    """Per grid tile: the colour of the box around one of its faces (None: no boxed face)."""
    found: list[BGR | None] = []
    for tile in grid_tiles(2, WINDOW_WIDTH_PX):
        picture = window[tile.top : tile.top + tile.height, tile.left : tile.left + tile.width]
        faces = detector.analyze_sync(np.ascontiguousarray(picture)).faces
        colours = [rectangle_colour(picture, face.box_px) for face in faces]
        found.append(next((colour for colour in colours if colour is not None), None))
    return found


async def test_the_window_boxes_the_faces_of_a_real_clip_and_obeys_its_keys(
    x_display: str, media_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "window.toml"
    app_log = tmp_path / "app.log"
    config.write_text(
        f'state_dir = "{tmp_path}"\n'
        + "".join(
            f'[[cameras]]\nname = "{name}"\nsource = "{media_dir / CLIP}"\n'
            for name in ("left", "right")
        )
        + f"[overlay]\nweb = false\nwindow_grid = true\nstream_width_px = {WINDOW_WIDTH_PX}\n"
    )
    app = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "streamwatch", "run", "--config", str(config), "--window"),
        *("--duration", "120"),  # q must end it long before this
        env={**os.environ, "DISPLAY": x_display},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=app_log.open("wb"),
    )

    def app_state() -> str:
        """The app's exit code and last log lines, for a failure to say what happened."""
        lines = app_log.read_text(errors="replace").splitlines()[-APP_LOG_LINES:]
        return f"(app exit code {app.returncode}; its log ends: {lines})"

    try:
        async with LocalAnalyzer() as detector:
            height_px = grid_tiles(2, WINDOW_WIDTH_PX)[0].height
            # Each tile's boxed face may be seen on a different screenshot: the signers
            # change every 1.6-3.6 s, and under a full suite's load a screenshot and its two
            # detections take long enough for both tiles to be caught between signers.
            boxed: list[BGR | None] = [None, None]
            async with guard("a boxed face in both tiles", app_state):
                while not all(boxed):  # each screenshot is a new look
                    window = await window_picture(x_display, height_px)
                    assert not np.all(window == LANDMARK_COLOUR, axis=-1).any()
                    colours = boxed_faces(window, detector)
                    boxed = [seen or now for seen, now in zip(boxed, colours, strict=True)]

            async def landmarks_shown() -> bool:
                picture = await window_picture(x_display, height_px)
                return bool(np.all(picture == LANDMARK_COLOUR, axis=-1).sum() > 10)

            async def full_screen() -> bool:  # no window manager: the window covers the screen
                return await window_size(x_display) == SCREEN_PX

            await press_until(x_display, "l", landmarks_shown, "landmarks after l")
            await press_until(x_display, "f", full_screen, "a full-screen window after f")

            await press(x_display, "q")
            async with guard("the app's exit after q"):
                assert await app.wait() == 0
    finally:
        if app.returncode is None:
            app.kill()
            await app.wait()
