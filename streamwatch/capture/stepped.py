"""The frame hand-over of a replay played as fast as it decodes: every frame, in step.

Live, the reader thread overwrites a one-slot `LatestFrame` and the frames the pipeline was too
busy to take are dropped. Played faster than real time that would drop frames real time keeps,
so a replay hands over every frame instead: the reader waits until the pipeline took the
previous one (decoding the next meanwhile), and the pipeline's time is the media time of the
frame it took (`MediaClock`). Before a frame is taken, what the frames before it started (a
call and its answer) is done, or waits for a later media time; so is what the new frame's time
lets go (a call the budget held back), as it would have been in real time.

How long the pipeline held each frame is kept (`held_s`): a replay can estimate from it which
frames real time would have dropped on this machine.
"""

from __future__ import annotations

import asyncio
import threading
import time

from streamwatch.capture.frame import Frame
from streamwatch.capture.latest import LatestFrame
from streamwatch.clock import MediaClock


class SteppedFrames(LatestFrame):
    def __init__(self, loop: asyncio.AbstractEventLoop, clock: MediaClock) -> None:
        super().__init__(loop)
        self._clock = clock
        self._slot_free = threading.Condition(self._lock)
        self._handed_at_s: float | None = None
        self.held_s: list[float] = []  # wall seconds the pipeline spent on each frame taken

    def put(self, frame: Frame) -> None:
        """Called from the reader thread: waits until the previous frame was taken."""
        with self._slot_free:
            self._slot_free.wait_for(self._free)
            if self._closed:
                return
            self._frame = frame
        self._wake()

    def close(self) -> None:
        with self._slot_free:
            self._closed = True
            self._slot_free.notify_all()
        self._wake()

    async def next(self, after_sequence: int = -1) -> Frame:
        if self._handed_at_s is not None:
            self.held_s.append(time.perf_counter() - self._handed_at_s)
        await self._clock.settled()
        frame = await super().next(after_sequence)
        with self._slot_free:
            self._slot_free.notify_all()
        self._clock.advance_to(frame.monotonic_s)
        await self._clock.settled()
        self._handed_at_s = time.perf_counter()
        return frame

    def _free(self) -> bool:
        return self._closed or self._frame is None or self._taken_sequence >= self._frame.sequence
