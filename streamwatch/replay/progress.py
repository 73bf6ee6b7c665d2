"""A progress bar on a terminal's stderr: how far the replay is, and what it did so far."""

from __future__ import annotations

import time
from typing import TextIO

BAR_WIDTH = 30
REDRAW_S = 0.1  # at most this often: a terminal is slower than the gate


class ProgressBar:
    """Drawn in place with carriage returns; silent without a stream or off a terminal."""

    def __init__(self, stream: TextIO | None, total_s: float | None) -> None:
        self._stream = stream if stream is not None and stream.isatty() else None
        self._total_s = total_s
        self._started_s = time.monotonic()
        self._drawn_s = 0.0

    def update(self, media_s: float, calls: int, events: int, *, force: bool = False) -> None:
        now_s = time.monotonic()
        if self._stream is None:
            return
        if not force and now_s - self._drawn_s < REDRAW_S:
            return
        self._drawn_s = now_s
        speed = media_s / max(now_s - self._started_s, 1e-6)
        if self._total_s:
            share = min(1.0, media_s / self._total_s)
            filled = round(share * BAR_WIDTH)
            head = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%} "
            position = f"{media_s:6.1f}/{self._total_s:.1f} s"
        else:
            head, position = "", f"{media_s:6.1f} s"
        self._stream.write(f"\r{head}{position}  {calls} calls  {events} events  {speed:4.1f}x ")
        self._stream.flush()

    def finish(self, media_s: float, calls: int, events: int) -> None:
        """The last state, drawn whatever the time since the previous one; then a new line."""
        self.update(media_s, calls, events, force=True)
        if self._stream is not None:
            self._stream.write("\n")
            self._stream.flush()
