"""Whether a camera is healthy: the one rule behind /healthz, `streamwatch_camera_up`, the
`systemctl status` line and the pipeline's camera.offline / camera.online.

A camera is healthy while it streams and its newest frame is younger than its
`stall_timeout_s`, or once a file it played ended (`finished`). A read that blocks past its
time-out (a driver that ignores it) leaves the reader `streaming` with no new frame: that
camera is not healthy, whatever its state says.

A run whose cameras all ended, some of them given up by their readers (capture/reader.py)
rather than files that finished, ends in `CamerasGone`: which, and why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from streamwatch.capture.state import CameraState, CameraStats


@dataclass(frozen=True, slots=True)
class CameraHealth:
    healthy: bool
    state: CameraState
    reason: str | None  # why it is not healthy (credentials redacted); None when it is


def camera_health(stats: CameraStats, now_s: float, stall_timeout_s: float) -> CameraHealth:
    """The health of a camera at `now_s` (monotonic, the clock of the stats' frame times)."""
    match stats.state:
        case CameraState.STREAMING:
            age_s = stats.last_frame_age_s(now_s)
            if age_s is not None and age_s < stall_timeout_s:
                return CameraHealth(True, stats.state, None)
            reason = "no frame yet" if age_s is None else f"no frame for {age_s:.0f} s"
            return CameraHealth(False, stats.state, reason)
        case CameraState.FINISHED:
            return CameraHealth(True, stats.state, None)
        case CameraState.FAILED if stats.given_up:
            return CameraHealth(False, stats.state, f"given up: {stats.last_error}")
        case (
            CameraState.CONNECTING
            | CameraState.STALLED
            | CameraState.RECONNECTING
            | CameraState.FAILED
            | CameraState.STOPPED
        ):
            return CameraHealth(False, stats.state, stats.last_error or str(stats.state))


class CamerasGone(Exception):
    """No camera is left running, and not by design: at least one was given up (the others, if
    any, were files that finished). One line: each camera given up and its last error."""

    def __init__(self, given_up: Iterable[CameraStats]) -> None:
        self.cameras = {stats.camera: stats.last_error for stats in given_up}
        named = "; ".join(f"{name} ({error})" for name, error in self.cameras.items())
        super().__init__(f"no camera left running; given up: {named}")
