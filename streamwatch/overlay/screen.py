"""The X screen's size, for full screen on an X server without a window manager.

cv2's full-screen property asks the window manager (_NET_WM_STATE_FULLSCREEN); a kiosk that
runs a bare X server has none, and the request is silently ignored. The window then covers
the screen itself, which needs the screen's size: libX11 tells it (present wherever an X
server is), and OpenCV does not.
"""

from __future__ import annotations

import ctypes
import ctypes.util


def x_screen_size_px() -> tuple[int, int] | None:
    """(width, height) of $DISPLAY's default screen; None without libX11 or a display."""
    library = ctypes.util.find_library("X11")
    if library is None:
        return None
    xlib = ctypes.CDLL(library)
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XDefaultScreen.argtypes = [ctypes.c_void_p]
    xlib.XDisplayWidth.argtypes = [ctypes.c_void_p, ctypes.c_int]
    xlib.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = xlib.XOpenDisplay(None)  # None: $DISPLAY
    if not display:
        return None
    try:
        screen = xlib.XDefaultScreen(display)
        return int(xlib.XDisplayWidth(display, screen)), int(xlib.XDisplayHeight(display, screen))
    finally:
        xlib.XCloseDisplay(display)
