"""A camera whose source cannot be made yet: a camera state, never a daemon that stops.

`open_source` raises SourceError for a spec that names nothing usable: most often a video file
that does not exist (a typo; a disk not mounted yet). Raised while the App starts, or while a
SIGHUP restarts one camera, it used to end the whole process: the healthy cameras, the live
view and the status server with it. Such a camera gets a `DeferredSource` instead: each open
asks for the source again and, until it can be made, fails with `SourceMissing`, which the
reader shows as `failed` with the reason (camera.offline, /healthz 503 for that camera) and
tries again on its back-off. It is never given up: asking costs a `stat`, and the camera starts
by itself once the file is there (within about a second: `reachable` asks too). Any other
exception making the source raises is passed on to the reader, which deals with it as with any
unexpected error: `failed`, its kind logged (never its message), given up after max_failures.

`streamwatch check` reports the same problem before anything runs (capture/preflight.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from streamwatch.capture.sources import SourceError, VideoSource
from streamwatch.config.model import CameraSettings


class SourceMissing(SourceError):
    """The source a camera names is not there (yet): the camera is `failed` until it is."""


class DeferredSource:
    """Stands for the source of `camera` until `make` can make it, then passes everything on."""

    def __init__(
        self, camera: CameraSettings, make: Callable[[CameraSettings], VideoSource]
    ) -> None:
        self._camera = camera
        self._make = make
        self._source: VideoSource | None = None
        self.description = f"camera {camera.name}'s source"
        self.pace_fps: float | None = None
        self.finite = False

    def open(self) -> None:
        source = self._made()
        source.open()
        self.pace_fps = source.pace_fps  # known once open (a file's frame rate)

    def read(self) -> np.ndarray | None:
        return None if self._source is None else self._source.read()

    def position_ms(self) -> float | None:
        return None if self._source is None else self._source.position_ms()

    def reachable(self) -> bool:
        """True once the source can be made (the file is there), and then as the source says."""
        try:
            source = self._made()
        except SourceMissing:
            return False
        return source.reachable()

    def close(self) -> None:
        if self._source is not None:
            self._source.close()

    def _made(self) -> VideoSource:
        if self._source is None:
            try:
                source = self._make(self._camera)
            except SourceError as error:
                raise SourceMissing(str(error)) from None
            self._source = source
            self.description, self.finite = source.description, source.finite
        return self._source
