"""A camera's state and figures, as its reader (capture/reader.py) shows them to the rest."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CameraState(StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    # An unexpected error (backing off, or given up: CameraStats.given_up), or a source that is
    # not there (a missing file: retried until it is).
    FAILED = "failed"
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
    failures: int  # unexpected errors, reader threads that died included
    restarts: int  # reader threads that died and were started again
    given_up: bool  # failed for good: max_failures unexpected failures in a row

    def last_frame_age_s(self, now_monotonic_s: float) -> float | None:
        if self.last_frame_monotonic_s is None:
            return None
        return now_monotonic_s - self.last_frame_monotonic_s
