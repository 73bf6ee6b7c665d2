"""One reader thread per camera, keeping only the newest frame for the async side.

OpenCV's read() blocks (and releases the GIL), so each camera gets a thread that reads as fast
as the source delivers and overwrites a one-slot `LatestFrame`. The camera's asyncio task awaits
the next frame without polling; frames it was too busy to take are dropped, never queued.
A recording replayed as fast as it decodes runs on a `MediaClock` instead: its frames carry
their media time and are handed over one by one (capture/stepped.py).

The thread also owns the camera's state machine:

    connecting ──► streaming ──► stalled ──► reconnecting ──► connecting ──► …
        └─────────(open failed)───────────────────┘

A stream is stalled when a read fails or times out (the read time-out is stall_timeout_s), or
when the picture is frozen or its timestamps stop advancing. Reconnects back off exponentially
with full jitter; while a stream's host does not even accept connections the wait is cut short
as soon as it does (a TCP connect each second costs nothing), so a camera that comes back is
streaming again within about a second, whatever the back-off had grown to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from streamwatch.backoff import Backoff
from streamwatch.capture.frame import Frame
from streamwatch.capture.latest import LatestFrame
from streamwatch.capture.sources import SourceError, VideoSource
from streamwatch.capture.stepped import SteppedFrames
from streamwatch.clock import MediaClock
from streamwatch.config.model import CameraSettings

log = logging.getLogger("streamwatch.capture")

PROBE_INTERVAL_S = 1.0
# A read that blocks this share of stall_timeout_s has hit the time-out.
STALLED_READ_FRACTION = 0.95
FPS_WINDOW_FRAMES = 30


class CameraState(StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    FINISHED = "finished"  # a file that ended without `loop`
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class CameraStats:
    camera: str
    state: CameraState
    frames_read: int
    frames_dropped: int  # read but replaced by a newer frame before the pipeline took them
    reconnects: int
    fps_in: float
    last_frame_monotonic_s: float | None
    last_error: str | None  # why the camera last stopped streaming (credentials redacted)

    def last_frame_age_s(self, now_monotonic_s: float) -> float | None:
        if self.last_frame_monotonic_s is None:
            return None
        return now_monotonic_s - self.last_frame_monotonic_s


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
        backoff: Backoff | None = None,
        media_clock: MediaClock | None = None,
    ) -> None:
        """`media_clock`: replay a recording in its own time, every frame, as fast as it decodes."""
        self.camera = camera
        self.source = source
        self._clock = clock
        self._media_clock = media_clock
        self._backoff = backoff or Backoff(camera.reconnect_initial_s, camera.reconnect_max_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = CameraState.CONNECTING
        self._frames_read = 0
        self._reconnects = 0
        self._frame_times_s: deque[float] = deque(maxlen=FPS_WINDOW_FRAMES)
        self._last_error: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state_changed = asyncio.Event()
        self._state_version = 0
        self.latest: LatestFrame | None = None

    @property
    def state(self) -> CameraState:
        return self._state

    @property
    def stats(self) -> CameraStats:
        times = list(self._frame_times_s)
        span_s = times[-1] - times[0] if len(times) > 1 else 0.0
        return CameraStats(
            camera=self.camera.name,
            state=self._state,
            frames_read=self._frames_read,
            frames_dropped=self.latest.dropped if self.latest else 0,
            reconnects=self._reconnects,
            fps_in=(len(times) - 1) / span_s if span_s > 0 else 0.0,
            last_frame_monotonic_s=times[-1] if times else None,
            last_error=self._last_error,
        )

    @property
    def backoff_ceiling_s(self) -> float:
        return self._backoff.ceiling_s

    @property
    def state_version(self) -> int:
        """Counts the changes of state: pass it to `state_change` to wait for the next one."""
        return self._state_version

    async def state_change(self, seen_version: int) -> int:
        """Wait until the state changed after `seen_version`; returns the new version."""
        while self._state_version == seen_version:
            # No await between the check and clear(): see LatestFrame.next.
            self._state_changed.clear()
            await self._state_changed.wait()
        return self._state_version

    async def __aenter__(self) -> CameraReader:
        self._loop = asyncio.get_running_loop()
        self.latest = (
            LatestFrame(self._loop)
            if self._media_clock is None
            else SteppedFrames(self._loop, self._media_clock)
        )
        self._thread = threading.Thread(
            target=self._run, name=f"capture-{self.camera.name}", daemon=True
        )
        self._thread.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self.latest is not None:
            self.latest.close()  # a stepped hand-over's reader may be waiting to put a frame
        if self._thread is not None:
            # An open or read can block up to stall_timeout_s; wait for it off the loop.
            await asyncio.to_thread(self._thread.join, self.camera.stall_timeout_s + 5)
            if self._thread.is_alive():
                log.warning(
                    "camera %s: reader thread did not stop in time",
                    self.camera.name,
                    extra={"camera": self.camera.name},
                )
        self._set_state(CameraState.STOPPED)

    # Everything below runs in the reader thread.

    def _run(self) -> None:
        assert self.latest is not None
        try:
            while not self._stop.is_set():
                self._set_state(CameraState.CONNECTING)
                try:
                    self.source.open()
                except SourceError as error:
                    self._fail(str(error))
                else:
                    ended = self._stream()
                    self.source.close()
                    if ended and self.source.finite:
                        if not self.camera.loop:
                            self._set_state(CameraState.FINISHED)
                            return
                        continue  # a looping file starts again at once
                if not self._stop.is_set():
                    self._wait_before_reconnecting()
        finally:
            self.source.close()
            self.latest.close()

    def _stream(self) -> bool:
        """Read until the source ends or stalls (True) or the reader is stopped (False)."""
        assert self.latest is not None
        started_s = time.monotonic()
        next_due_s = started_s
        watch = _StuckWatch(self.camera.stall_timeout_s, self.camera.frozen_after_s)
        while not self._stop.is_set():
            read_started_s = time.monotonic()
            image = self.source.read()
            now_s = time.monotonic()
            if image is None:
                if not self.source.finite:
                    self._fail(f"{self.source.description}: no frame (read failed or timed out)")
                break
            # FFmpeg's read time-out may still hand back a (stale) picture once it fires: a
            # read that blocked for the whole time-out means the stream stalled either way.
            if now_s - read_started_s >= STALLED_READ_FRACTION * self.camera.stall_timeout_s:
                self._fail(
                    f"{self.source.description}: no frame for {now_s - read_started_s:.1f} s"
                )
                break
            frame_s, timestamp_s = now_s, self._clock()
            if self._media_clock is not None:
                frame_s = self._media_clock.frame_time_s(self._frames_read + 1)
                timestamp_s = self._media_clock.start_wall_s + frame_s
            stuck = watch.stuck(image, self.source.position_ms(), frame_s)
            if stuck is not None:
                self._fail(f"{self.source.description}: {stuck}")
                break
            self._frames_read += 1
            self._frame_times_s.append(frame_s)
            self._set_state(CameraState.STREAMING)
            image.setflags(write=False)
            self.latest.put(Frame(self.camera.name, self._frames_read, timestamp_s, frame_s, image))
            if self.source.pace_fps and self._media_clock is None:
                next_due_s = max(next_due_s + 1 / self.source.pace_fps, now_s - 1.0)
                self._stop.wait(max(0.0, next_due_s - time.monotonic()))
        if time.monotonic() - started_s >= self.camera.reconnect_reset_after_s:
            self._backoff.reset()
        return not self._stop.is_set()

    def _fail(self, reason: str) -> None:
        if self._state is CameraState.STREAMING:
            self._set_state(CameraState.STALLED)
        if reason != self._last_error:
            log.warning(
                "camera %s: %s", self.camera.name, reason, extra={"camera": self.camera.name}
            )
        self._last_error = reason

    def _wait_before_reconnecting(self) -> None:
        self._set_state(CameraState.RECONNECTING)
        self._reconnects += 1
        delay_s = self._backoff.next_delay_s()
        log.info(
            "camera %s: reconnecting in %.1f s",
            self.camera.name,
            delay_s,
            extra={"camera": self.camera.name},
        )
        deadline_s = time.monotonic() + delay_s
        # Nobody listening yet: look each second whether someone does, and go at once if so.
        watch_for_return = not self.source.reachable()
        while not self._stop.is_set() and (remaining_s := deadline_s - time.monotonic()) > 0:
            if self._stop.wait(
                min(remaining_s, PROBE_INTERVAL_S) if watch_for_return else remaining_s
            ):
                return
            if watch_for_return and self.source.reachable():
                log.info(
                    "camera %s: answering again",
                    self.camera.name,
                    extra={"camera": self.camera.name},
                )
                return

    def _set_state(self, state: CameraState) -> None:
        if state is self._state:
            return
        self._state = state
        self._state_version += 1
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self._loop.call_soon_threadsafe(self._state_changed.set)


class _StuckWatch:
    """A stream that delivers frames but is stuck: frozen picture or frozen timestamps."""

    def __init__(self, stall_timeout_s: float, frozen_after_s: float) -> None:
        self._stall_timeout_s = stall_timeout_s
        self._frozen_after_s = frozen_after_s
        self._signature: bytes | None = None
        self._same_picture_since_s: float | None = None
        self._position_ms: float | None = None
        self._same_position_since_s: float | None = None

    def stuck(self, image: np.ndarray, position_ms: float | None, now_s: float) -> str | None:
        # A sparse grid of pixels: a live picture's sensor noise changes some of them in
        # every frame; a frozen encoder repeats them all. ~2 kB, a few microseconds.
        signature = image[
            :: max(1, image.shape[0] // 24), :: max(1, image.shape[1] // 32)
        ].tobytes()
        if signature == self._signature:
            self._same_picture_since_s = self._same_picture_since_s or now_s
            if now_s - self._same_picture_since_s >= self._frozen_after_s:
                return f"picture frozen for {now_s - self._same_picture_since_s:.0f} s"
        else:
            self._signature, self._same_picture_since_s = signature, None
        if position_ms is not None and position_ms == self._position_ms:
            self._same_position_since_s = self._same_position_since_s or now_s
            if now_s - self._same_position_since_s >= self._stall_timeout_s:
                return f"timestamps stopped at {position_ms / 1000:.1f} s"
        else:
            self._position_ms, self._same_position_since_s = position_ms, None
        return None
