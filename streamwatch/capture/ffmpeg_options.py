"""FFmpeg's capture options, one set per open, though OpenCV reads them from the environment.

OpenCV's FFmpeg back-end takes its demuxer options (RTSP transport, probe size) only from the
process environment variable OPENCV_FFMPEG_CAPTURE_OPTIONS, read (getenv) while a capture
opens; the per-capture `params` of `cv2.VideoCapture` are integer properties only (time-outs,
hardware decoding), still so in OpenCV 5.0. Cameras open in their own threads, so a camera
that sets the variable while another one opens would hand it the wrong transport.

`capture_options(value)` is held around the set and the open: opens that want the same options
(every camera on TCP, the usual case) go together, so a hung camera's open (up to its
stall_timeout_s) does not hold back the others; an open that wants different options waits
until those in progress are done, and the ones that arrive after it wait for it (no
starvation). Nothing else in the process writes the variable.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

VARIABLE = "OPENCV_FFMPEG_CAPTURE_OPTIONS"

# What the process was started with: files open with it (usually unset: FFmpeg's defaults).
STARTED_WITH = os.environ.get(VARIABLE)


class _OptionsGate:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._value: str | None = STARTED_WITH
        self._opening = 0  # opens in progress with `_value`
        self._waiting = 0  # opens waiting for other options

    @contextmanager
    def holding(self, value: str | None) -> Iterator[None]:
        """The variable is `value` (None: unset) until the block ends (an open inside it)."""
        with self._changed:
            if not self._may_enter(value):
                self._waiting += 1
                try:
                    self._changed.wait_for(lambda: self._opening == 0)
                finally:
                    self._waiting -= 1
            if self._opening == 0 and value != self._value:
                if value is None:
                    os.environ.pop(VARIABLE, None)
                else:
                    os.environ[VARIABLE] = value
                self._value = value
            self._opening += 1
        try:
            yield
        finally:
            with self._changed:
                self._opening -= 1
                if self._opening == 0:
                    self._changed.notify_all()

    def _may_enter(self, value: str | None) -> bool:
        if self._opening == 0:
            return True
        return value == self._value and self._waiting == 0


# One for the process: the variable is the process's.
capture_options = _OptionsGate().holding
