"""The value capture hands to the rest of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded picture of one camera.

    `sequence` counts every frame the reader decoded, so a gap between two frames a consumer
    sees is the number of frames dropped in favour of freshness.
    """

    camera: str
    sequence: int
    timestamp_s: float  # wall clock (time.time()) when the frame was read
    monotonic_s: float  # time.monotonic() at the same moment, for ages and intervals
    # (A fast replay: the media time of the frame, and the replay's start plus that.)
    image: np.ndarray  # BGR, uint8, read-only

    @property
    def width_px(self) -> int:
        return int(self.image.shape[1])

    @property
    def height_px(self) -> int:
        return int(self.image.shape[0])
