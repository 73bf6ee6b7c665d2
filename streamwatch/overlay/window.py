"""The native window: one cv2.imshow window per camera, for a screen attached to the box.

HighGUI calls run on the event loop thread: several GUI backends (Qt, GTK) only work from the
thread that created the window, and imshow + waitKey(1) take about a millisecond. Drawing,
the slow part, runs in a worker thread.

Keys: q quits (sets `stop`), l toggles the landmarks, f toggles full screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Final

import cv2
import numpy as np

from streamwatch.config.model import OverlaySettings
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.draw import draw_scene
from streamwatch.overlay.scene import Scene

WINDOW_TITLE_PREFIX: Final = "streamwatch: "
GUI_FIX: Final = "pip install --force-reinstall --no-deps opencv-python"
# A picture that has not changed is still redrawn this often, so the stale badge's age and
# the fps keep moving on a camera that stalled.
REDRAW_AFTER_S: Final = 1.0


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
    sequence: int
    show_landmarks: bool
    drawn_monotonic_s: float


async def show_windows(board: SceneBoard, settings: OverlaySettings, stop: asyncio.Event) -> None:
    """Show every camera of `board` in its own window until `stop` is set (or q is pressed)."""
    require_gui()
    titles = {camera: WINDOW_TITLE_PREFIX + camera for camera in board.cameras}
    controls = WindowControls(show_landmarks=settings.show_landmarks)
    shown: dict[str, _Shown] = {}
    frame_interval_s = 1.0 / settings.stream_fps
    try:
        for title in titles.values():
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        while not stop.is_set():
            tick_monotonic_s = time.monotonic()
            due = {
                camera: scene
                for camera in titles
                if (scene := board.latest(camera)) is not None
                and _needs_redraw(shown.get(camera), scene, controls, tick_monotonic_s)
            }
            images = await asyncio.gather(
                *(_draw(scene, controls, settings, tick_monotonic_s) for scene in due.values())
            )
            for (camera, scene), image in zip(due.items(), images, strict=True):
                cv2.imshow(titles[camera], image)
                shown[camera] = _Shown(
                    scene.frame.sequence, controls.show_landmarks, tick_monotonic_s
                )
            pressed = apply_key(controls, cv2.waitKey(1))
            if pressed.full_screen != controls.full_screen:
                _set_full_screen(titles.values(), pressed.full_screen)
            controls = pressed
            if controls.quit:
                stop.set()
                break
            remaining_s = tick_monotonic_s + frame_interval_s - time.monotonic()
            if remaining_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=remaining_s)
    finally:
        for title in titles.values():
            # Never opened, or already closed by the user.
            with contextlib.suppress(cv2.error):
                cv2.destroyWindow(title)
        cv2.waitKey(1)  # lets the backend process the destruction before the loop goes on


def _needs_redraw(
    shown: _Shown | None, scene: Scene, controls: WindowControls, now_monotonic_s: float
) -> bool:
    return (
        shown is None
        or shown.sequence != scene.frame.sequence
        or shown.show_landmarks != controls.show_landmarks
        or now_monotonic_s - shown.drawn_monotonic_s >= REDRAW_AFTER_S
    )


async def _draw(
    scene: Scene, controls: WindowControls, settings: OverlaySettings, now_monotonic_s: float
) -> np.ndarray:
    return await asyncio.to_thread(
        lambda: draw_scene(
            scene,
            now_monotonic_s=now_monotonic_s,
            show_landmarks=controls.show_landmarks,
            width_px=settings.stream_width_px,
            max_events=settings.recent_events,
        )
    )


def _set_full_screen(titles: Iterable[str], full_screen: bool) -> None:
    mode = cv2.WINDOW_FULLSCREEN if full_screen else cv2.WINDOW_NORMAL
    for title in titles:
        cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, mode)
