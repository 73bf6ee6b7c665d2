"""The hand-over between a camera's gate loop and its call loop: one slot, newest wins."""

from __future__ import annotations

import asyncio

from streamwatch.clock import Clock, Hold
from streamwatch.selection.policy import Candidate


class CandidateSlot:
    """A one-slot hand-over of candidates: a newer one replaces one not yet taken.

    From an offer until the call loop is `done` with every candidate it holds the clock: a
    replay's clock does not move on while a call is to be made (the machine's ignores it).
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._candidate: Candidate | None = None
        self._ready = asyncio.Event()
        self._hold: Hold | None = None

    def offer(self, candidate: Candidate) -> Candidate | None:
        """Leave `candidate`; returns the one it replaced, if any."""
        replaced, self._candidate = self._candidate, candidate
        if self._hold is None:
            self._hold = self._clock.hold()
        self._ready.set()
        return replaced

    async def take(self) -> Candidate:
        await self._ready.wait()
        self._ready.clear()
        assert self._candidate is not None
        candidate, self._candidate = self._candidate, None
        return candidate

    def done(self) -> None:
        """The call loop is through with the candidate it took."""
        if self._candidate is None and self._hold is not None:
            self._hold.release()
            self._hold = None
