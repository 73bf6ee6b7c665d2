"""One reader thread per camera, keeping only the newest frame for the async side.

OpenCV's read() blocks (and releases the GIL), so each camera gets a thread that reads as fast
as the source delivers and overwrites a one-slot `LatestFrame`. The camera's asyncio task awaits
the next frame without polling; frames it was too busy to take are dropped, never queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from streamwatch.capture.frame import Frame
from streamwatch.capture.sources import SourceError, VideoSource
from streamwatch.config.model import CameraSettings

log = logging.getLogger("streamwatch.capture")


class CameraClosed(Exception):
    """The camera stopped (shut down, or a file source ended without looping)."""


class CameraState(StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    FINISHED = "finished"  # a file that ended without `loop`
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class CameraStats:
    state: CameraState
    frames_read: int
    reconnects: int
    last_frame_monotonic_s: float | None


class LatestFrame:
    """A one-slot hand-over from a thread to the event loop: the newest frame wins."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._closed = False
        self._changed = asyncio.Event()

    def put(self, frame: Frame) -> None:
        """Called from the reader thread."""
        with self._lock:
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
        """The newest frame with a sequence above `after_sequence`, waiting for one if needed."""
        while True:
            with self._lock:
                frame, closed = self._frame, self._closed
            if frame is not None and frame.sequence > after_sequence:
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


class CameraReader:
    """Runs a source in a thread: open, read into `latest`, reconnect with back-off.

    Use as `async with CameraReader(...) as reader:`; leaving the block stops the thread.
    """

    def __init__(
        self,
        camera: CameraSettings,
        source: VideoSource,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.camera = camera
        self.source = source
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = CameraState.CONNECTING
        self._frames_read = 0
        self._reconnects = 0
        self._last_frame_monotonic_s: float | None = None
        self.latest: LatestFrame | None = None

    @property
    def stats(self) -> CameraStats:
        return CameraStats(
            self._state, self._frames_read, self._reconnects, self._last_frame_monotonic_s
        )

    async def __aenter__(self) -> CameraReader:
        self.latest = LatestFrame(asyncio.get_running_loop())
        self._thread = threading.Thread(
            target=self._run, name=f"capture-{self.camera.name}", daemon=True
        )
        self._thread.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            # A read can block up to the source's read time-out; wait for it off the loop.
            await asyncio.to_thread(self._thread.join, 10.0)
        self._state = CameraState.STOPPED

    def _run(self) -> None:
        assert self.latest is not None
        backoff_s = self.camera.reconnect_initial_s
        try:
            while not self._stop.is_set():
                try:
                    self.source.open()
                except SourceError as error:
                    log.warning("camera %s: %s", self.camera.name, error)
                else:
                    ended = self._stream()
                    self.source.close()
                    if ended and self.source.finite:
                        if not self.camera.loop:
                            self._state = CameraState.FINISHED
                            return
                        continue  # a looping file starts again at once
                    if self._state is CameraState.STREAMING:
                        backoff_s = self.camera.reconnect_initial_s
                if self._stop.is_set():
                    return
                self._state = CameraState.RECONNECTING
                self._reconnects += 1
                # Full jitter keeps many cameras of one dead recorder from retrying in step.
                delay_s = random.uniform(0, backoff_s)
                log.info("camera %s: reconnecting in %.1f s", self.camera.name, delay_s)
                self._stop.wait(delay_s)
                backoff_s = min(backoff_s * 2, self.camera.reconnect_max_s)
        finally:
            self.source.close()
            self.latest.close()

    def _stream(self) -> bool:
        """Read until the source ends or fails (True) or the reader is stopped (False)."""
        assert self.latest is not None
        next_due_s = time.monotonic()
        while not self._stop.is_set():
            image = self.source.read()
            if image is None:
                return True
            now_s = time.monotonic()
            self._state = CameraState.STREAMING
            self._frames_read += 1
            self._last_frame_monotonic_s = now_s
            image.setflags(write=False)
            self.latest.put(Frame(self.camera.name, self._frames_read, self._clock(), now_s, image))
            if self.source.pace_fps:
                next_due_s = max(next_due_s + 1 / self.source.pace_fps, now_s - 1.0)
                self._stop.wait(max(0.0, next_due_s - time.monotonic()))
        return False
