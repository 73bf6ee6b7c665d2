"""One reader thread per camera, keeping only the newest frame for the async side.

OpenCV's read() blocks (and releases the GIL), so each camera gets a thread that reads as fast
as the source delivers and overwrites a one-slot `LatestFrame`. The camera's asyncio task awaits
the next frame without polling; frames it was too busy to take are dropped, never queued.
A recording replayed as fast as it decodes runs on a `MediaClock` instead: its frames carry
their media time and are handed over one by one (capture/stepped.py).

The thread also owns the camera's state machine:

    connecting ──► streaming ──► stalled ──► reconnecting ──► connecting ──► …
        ├─────────(open failed)───────────────────┘
        ├─(source not there: a missing file)──► failed ──► connecting ──► …
        └─(any other exception)──► failed ──► connecting ──► …   (or failed for good)

A stream is stalled when a read fails or times out (the read time-out is stall_timeout_s), or
when the picture is frozen or its timestamps stop advancing. Reconnects back off exponentially
with full jitter; while a stream's host does not even accept connections the wait is cut short
as soon as it does (a TCP connect each second costs nothing), so a camera that comes back is
streaming again within about a second, whatever the back-off had grown to. An unreachable or
stalled camera is retried forever: that is what cameras do.

Anything else a source raises (a driver's or a decoder's bug) is unexpected: its kind is logged
(never its message, which may quote the stream's URL), the camera is `failed` through the same
back-off, and reopened. A reader thread that dies all the same is noticed by the reader's
supervisor task on the event loop and started again (`restarts`). `max_failures` unexpected
failures in a row — none of them followed by reconnect_reset_after_s of streaming — and the
camera is given up: `failed` for good, its frames never end by themselves (the pipeline's
health loop announces camera.offline, then ends the camera).

A source that is not there (capture/deferred.py: a video file that does not exist) is `failed`
too, with the reason, through the same back-off; it is not an unexpected error, so it is never
given up: the camera starts once the file is there.

A looping file that reaches its end is opened again without passing through `connecting`:
the restart is how a loop plays, not a loss of the picture, and /healthz must not flap at each
loop. Should the reopen hang or fail, the frame age or the new state says so as for any camera.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from streamwatch.backoff import Backoff
from streamwatch.capture.deferred import SourceMissing
from streamwatch.capture.failures import Step, describe
from streamwatch.capture.frame import Frame
from streamwatch.capture.latest import LatestFrame
from streamwatch.capture.sources import SourceError, VideoSource
from streamwatch.capture.state import CameraState, CameraStats
from streamwatch.capture.stepped import SteppedFrames
from streamwatch.capture.stuck import StuckWatch
from streamwatch.clock import MediaClock
from streamwatch.config.model import CameraSettings

__all__ = ["CameraReader", "CameraState", "CameraStats"]

log = logging.getLogger("streamwatch.capture")

PROBE_INTERVAL_S = 1.0
# A read that blocks this share of stall_timeout_s has hit the time-out.
STALLED_READ_FRACTION = 0.95
FPS_WINDOW_FRAMES = 30


class _Ended(StrEnum):
    """How one connection ended."""

    STOPPED = "stopped"  # the reader was stopped
    BROKE = "broke"  # the open failed, or the stream stalled: reconnect after a back-off
    MISSING = "missing"  # the source is not there (a missing file): failed, retried the same way
    SOURCE_ENDED = "source_ended"  # a file reached its end


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
        self._supervisor: asyncio.Task[None] | None = None
        self._thread_ended = asyncio.Event()
        self._state = CameraState.CONNECTING
        self._frames_read = 0
        self._reconnects = 0
        self._frame_times_s: deque[float] = deque(maxlen=FPS_WINDOW_FRAMES)
        self._last_error: str | None = None
        # Written by the reader thread, or by the supervisor once that thread is dead.
        self._step = Step.OPEN
        self._failures = 0
        self._failures_in_row = 0
        self._restarts = 0
        self._given_up = False
        self._ended = False  # the thread returned for good: file finished, or given up
        self._death: str | None = None  # what ended a thread that died
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
            failures=self._failures,
            restarts=self._restarts,
            given_up=self._given_up,
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
        self._start_thread(restarted=False)
        self._supervisor = asyncio.create_task(
            self._supervise(), name=f"supervise {self.camera.name}"
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
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

    def _start_thread(self, *, restarted: bool) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(restarted,), name=f"capture-{self.camera.name}", daemon=True
        )
        self._thread.start()

    async def _supervise(self) -> None:
        """Start the reader thread again when it died rather than returned.

        The thread deals with every Exception itself; this is for what escapes anyway (a
        BaseException from a source, a bug in the reader), so that no camera ever stops
        without its state saying so.
        """
        while True:
            await self._thread_ended.wait()
            self._thread_ended.clear()
            thread = self._thread
            assert thread is not None
            await asyncio.to_thread(thread.join)  # it told us from its last lines
            if self._stop.is_set() or self._ended:
                return
            self._restarts += 1
            reason = f"{self.source.description}: reader thread died: {self._death}"
            if self._count_failure(reason):
                return
            self._start_thread(restarted=True)

    # Everything below runs in the reader thread (or in the supervisor, once it is dead).

    def _run(self, restarted: bool) -> None:
        assert self.latest is not None
        try:
            self._ended = self._read(restarted)
        except BaseException as error:
            # Not an Exception (those `_read` deals with). Kept from threading's excepthook,
            # which would print its message; the supervisor says what happened.
            self._death = describe(error, self._step)
        finally:
            with contextlib.suppress(Exception):
                self.source.close()
            if self._state is CameraState.FINISHED:
                self.latest.close()  # the pipeline ends once it dealt with the last frame
            self._call_on_loop(self._thread_ended.set)

    def _read(self, restarted: bool) -> bool:
        """Connect, stream and reconnect until stopped (False) or ended for good (True): a
        file that finished, or a camera given up."""
        wait_as = CameraState.FAILED if restarted else None
        looping = False  # a looping file opened again at its end
        while True:
            try:
                if wait_as is not None:
                    self._wait_before_reconnecting(wait_as)
                if self._stop.is_set():
                    return False
                ended = self._connection(looping=looping)
            except Exception as error:
                with contextlib.suppress(Exception):
                    self.source.close()  # not held during the back-off
                if self._count_failure(f"{self.source.description}: {describe(error, self._step)}"):
                    return True
                wait_as, looping = CameraState.FAILED, False
                continue
            looping = False
            match ended:
                case _Ended.STOPPED:
                    return False
                case _Ended.BROKE:
                    wait_as = CameraState.RECONNECTING
                case _Ended.MISSING:
                    wait_as = CameraState.FAILED
                case _Ended.SOURCE_ENDED:
                    if not self.camera.loop:
                        self._set_state(CameraState.FINISHED)
                        return True
                    wait_as, looping = None, True  # a looping file starts again at once

    def _connection(self, *, looping: bool = False) -> _Ended:
        """One connection: open, stream until it ends, close.

        `looping`: a looping file starting again, in the state it ended in (streaming).
        """
        if not looping:
            self._set_state(CameraState.CONNECTING)
        self._step = Step.OPEN
        try:
            self.source.open()
        except SourceMissing as error:
            self._fail(str(error))
            return _Ended.MISSING
        except SourceError as error:
            self._fail(str(error))
            return _Ended.BROKE
        opened_s = time.monotonic()
        try:
            self._step = Step.READ
            ended = self._stream()
        finally:
            if time.monotonic() - opened_s >= self.camera.reconnect_reset_after_s:
                # Streaming that long: what went wrong before it is forgotten.
                self._backoff.reset()
                self._failures_in_row = 0
        self._step = Step.CLOSE
        self.source.close()
        return ended

    def _stream(self) -> _Ended:
        """Read until the source ends or stalls, or the reader is stopped."""
        assert self.latest is not None
        next_due_s = time.monotonic()
        watch = StuckWatch(self.camera.stall_timeout_s, self.camera.frozen_after_s)
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
        if self._stop.is_set():
            return _Ended.STOPPED
        # A file's end, or its picture frozen: played again (loop) or finished, as at its end.
        return _Ended.SOURCE_ENDED if self.source.finite else _Ended.BROKE

    def _fail(self, reason: str) -> None:
        """An ordinary failure (the camera is unreachable or stalled): reconnect, forever."""
        if self._state is CameraState.STREAMING:
            self._set_state(CameraState.STALLED)
        if reason != self._last_error:
            log.warning(
                "camera %s: %s", self.camera.name, reason, extra={"camera": self.camera.name}
            )
        self._last_error = reason

    def _count_failure(self, reason: str) -> bool:
        """An unexpected failure: `failed`, counted, logged. True when it was one too many."""
        self._failures += 1
        self._failures_in_row += 1
        self._last_error = reason
        self._given_up = self._failures_in_row >= self.camera.max_failures
        extra = {"camera": self.camera.name}
        if self._given_up:
            log.error(
                "camera %s: %s; given up after %d unexpected failures in a row "
                "(fix it, then reload or restart)",
                self.camera.name,
                reason,
                self._failures_in_row,
                extra=extra,
            )
        else:
            log.warning(
                "camera %s: %s (unexpected, %d of %d in a row before it is given up)",
                self.camera.name,
                reason,
                self._failures_in_row,
                self.camera.max_failures,
                extra=extra,
            )
        # A change even when it was failed already: the new reason, or given up, is news.
        self._set_state(CameraState.FAILED, always=True)
        return self._given_up

    def _wait_before_reconnecting(self, state: CameraState) -> None:
        """Back off in `state` (reconnecting, or failed after an unexpected error)."""
        self._set_state(state)
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
        self._step = Step.PROBE
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

    def _set_state(self, state: CameraState, *, always: bool = False) -> None:
        if state is self._state and not always:
            return
        self._state = state
        self._state_version += 1
        self._call_on_loop(self._state_changed.set)

    def _call_on_loop(self, callback: Callable[[], object]) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self._loop.call_soon_threadsafe(callback)
