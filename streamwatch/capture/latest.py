"""The one-slot hand-over from a camera's reader thread to the event loop: the newest frame wins.

The reader overwrites the slot as fast as the source delivers; the pipeline awaits the next
frame without polling. Frames it was too busy to take are dropped, never queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from streamwatch.capture.frame import Frame


class CameraClosed(Exception):
    """The camera stopped (shut down, or a file source ended without looping)."""


class LatestFrame:
    """A one-slot hand-over from a thread to the event loop: the newest frame wins."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._taken_sequence = -1
        self._closed = False
        self._changed = asyncio.Event()
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        """Called from the reader thread."""
        with self._lock:
            if self._frame is not None and self._frame.sequence > self._taken_sequence:
                self.dropped += 1
            self._frame = frame
        self._wake()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake()

    def peek(self) -> Frame | None:
        with self._lock:
            return self._frame

    async def next(self, after_sequence: int = -1) -> Frame:
        """The newest frame with a sequence above `after_sequence`, waiting for one if needed.

        For the consumer that analyses the frames: the frames it never took count as dropped.
        """
        return await self._newest(after_sequence, take=True)

    async def watch(self, after_sequence: int = -1) -> Frame:
        """As `next`, for a viewer (the overlay): what it sees or skips changes nothing."""
        return await self._newest(after_sequence, take=False)

    async def _newest(self, after_sequence: int, *, take: bool) -> Frame:
        while True:
            with self._lock:
                frame, closed = self._frame, self._closed
                if frame is not None and frame.sequence > after_sequence:
                    if take:
                        self._taken_sequence = max(self._taken_sequence, frame.sequence)
                    return frame
            if closed:
                raise CameraClosed
            # No await between the check and clear(): a put() in between schedules its set()
            # on this loop, so it runs after clear() and wakes the wait below.
            self._changed.clear()
            await self._changed.wait()

    def _wake(self) -> None:
        # A closed loop (RuntimeError) has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._changed.set)
