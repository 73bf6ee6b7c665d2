"""The native window: cv2.imshow per camera, or all cameras in one grid, for an attached screen.

HighGUI calls run on the event loop thread: several GUI backends (Qt, GTK) only work from the
thread that created the window, and imshow + waitKey(1) take about a millisecond. Drawing,
the slow part, runs in a worker thread.

Keys: q quits (sets `stop`), l toggles the landmarks and pupils, f toggles full screen. It needs
no window manager: on a bare X server the window opens at the top-left corner. With
`overlay.window_view = "visitor"` it shows the kiosk's picture: boxes, and the visitor's
message drawn across the bottom (acknowledging is done on the pages, the API or MQTT).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

import cv2
import numpy as np

from streamwatch.config.serving import OverlaySettings
from streamwatch.overlay.board import SceneBoard, Snapshot
from streamwatch.overlay.draw import REDRAW_AFTER_S, DrawOptions, View
from streamwatch.overlay.grid import render_view
from streamwatch.overlay.screen import x_screen_size_px

WINDOW_TITLE_PREFIX: Final = "streamwatch: "
GUI_FIX: Final = "pip install --force-reinstall --no-deps opencv-python"


@dataclass(frozen=True, slots=True)
class WindowControls:
    """What the keys have chosen so far."""

    show_landmarks: bool
    full_screen: bool = False
    quit: bool = False


def apply_key(controls: WindowControls, key_code: int) -> WindowControls:
    """The controls after pressing `key_code` (as cv2.waitKey returns it; -1 = no key)."""
    if key_code < 0:
        return controls
    key = chr(key_code & 0xFF).lower()
    if key == "q":
        return replace(controls, quit=True)
    if key == "l":
        return replace(controls, show_landmarks=not controls.show_landmarks)
    if key == "f":
        return replace(controls, full_screen=not controls.full_screen)
    return controls


def gui_backend(build_information: str) -> str | None:
    """The "GUI:" entry of cv2.getBuildInformation(), None when OpenCV was built without one."""
    for line in build_information.splitlines():
        key, colon, value = line.strip().partition(":")
        if colon and key.strip() == "GUI":
            value = value.strip()
            return None if value.upper() in ("", "NONE") else value
    return None


def require_gui(
    build_information: str | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    platform: str = sys.platform,
) -> str:
    """The GUI backend's name, or a RuntimeError that says how to get one."""
    information = cv2.getBuildInformation() if build_information is None else build_information
    backend = gui_backend(information)
    if backend is None:
        raise RuntimeError(
            "this OpenCV build has no GUI (cv2.getBuildInformation() says GUI: NONE), so it "
            "cannot open a window. Usually opencv-python-headless, pulled in by another "
            "package, shadows opencv-python. Fix: "
            f"{GUI_FIX} — or set overlay.window = false and use the web live view."
        )
    # Qt and GTK abort the whole process, not just raise, when there is no display to open.
    if platform.startswith("linux") and not (
        environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
    ):
        raise RuntimeError(
            "no display to open a window on: DISPLAY is not set. Run streamwatch in the "
            "screen's session (e.g. DISPLAY=:0 for a kiosk's screen) or set "
            "overlay.window = false and use the web live view."
        )
    return backend


@dataclass(frozen=True, slots=True)
class _Shown:
    version: int
    show_landmarks: bool
    drawn_monotonic_s: float


def window_views(cameras: Sequence[str], *, grid: bool) -> dict[str, tuple[str, ...]]:
    """Window title → the cameras it shows: one window each, or one grid of all of them."""
    if grid:
        return {WINDOW_TITLE_PREFIX.rstrip(": "): tuple(cameras)}
    return {WINDOW_TITLE_PREFIX + camera: (camera,) for camera in cameras}


async def show_windows(board: SceneBoard, settings: OverlaySettings, stop: asyncio.Event) -> None:
    """Show the cameras of `board` in windows until `stop` is set (or q is pressed)."""
    require_gui()
    views = window_views(board.cameras, grid=settings.window_grid)
    controls = WindowControls(show_landmarks=settings.show_landmarks)
    shown: dict[str, _Shown] = {}
    screen_px = x_screen_size_px()
    frame_interval_s = 1.0 / settings.stream_fps
    try:
        for title in views:
            # GUI_NORMAL: no Qt tool or status bar, only the picture (a kiosk's screen).
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        while not stop.is_set():
            tick_monotonic_s = time.monotonic()
            due = {
                title: snapshot
                for title, cameras in views.items()
                if (snapshot := board.snapshot(cameras)).version > 0
                and _needs_redraw(shown.get(title), snapshot, controls, tick_monotonic_s)
            }
            options = DrawOptions.from_settings(
                settings,
                show_landmarks=controls.show_landmarks,
                view=View(settings.window_view),
                visitor_message=True,  # the window is the whole screen: the message goes in it
            )
            images = await asyncio.gather(
                *(
                    asyncio.to_thread(
                        render_view,
                        views[title],
                        snapshot.scenes,
                        now_monotonic_s=tick_monotonic_s,
                        options=options,
                        width_px=settings.stream_width_px,
                    )
                    for title, snapshot in due.items()
                )
            )
            for (title, snapshot), image in zip(due.items(), images, strict=True):
                if title not in shown:
                    _fit_window(title, image, screen_px if controls.full_screen else None)
                cv2.imshow(title, image)
                shown[title] = _Shown(snapshot.version, controls.show_landmarks, tick_monotonic_s)
            pressed = apply_key(controls, cv2.waitKey(1))
            if pressed.full_screen != controls.full_screen:
                _set_full_screen(views, pressed.full_screen)
                shown.clear()  # draw again at once, each window fitted to its new size
            controls = pressed
            if controls.quit:
                stop.set()
                break
            remaining_s = tick_monotonic_s + frame_interval_s - time.monotonic()
            if remaining_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=remaining_s)
    finally:
        for title in views:
            # Never opened, or already closed by the user.
            with contextlib.suppress(cv2.error):
                cv2.destroyWindow(title)
        cv2.waitKey(1)  # lets the backend process the destruction before the loop goes on


def _fit_window(title: str, image: np.ndarray, screen_px: tuple[int, int] | None) -> None:
    """The window at its picture's size, or covering the screen `screen_px`.

    A resizable window opens at the backend's default size (Qt: 400x300, the picture squeezed
    into it). Full screen is asked of the window manager too, but a bare X server has none.
    """
    if screen_px is None:
        cv2.resizeWindow(title, image.shape[1], image.shape[0])
    else:
        cv2.moveWindow(title, 0, 0)
        cv2.resizeWindow(title, *screen_px)


def _needs_redraw(
    shown: _Shown | None, snapshot: Snapshot, controls: WindowControls, now_monotonic_s: float
) -> bool:
    return (
        shown is None
        or shown.version != snapshot.version
        or shown.show_landmarks != controls.show_landmarks
        or now_monotonic_s - shown.drawn_monotonic_s >= REDRAW_AFTER_S
    )


def _set_full_screen(titles: Iterable[str], full_screen: bool) -> None:
    mode = cv2.WINDOW_FULLSCREEN if full_screen else cv2.WINDOW_NORMAL
    for title in titles:
        cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, mode)
