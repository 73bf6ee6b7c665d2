"""A stream that delivers frames but is stuck: a frozen picture, or frozen timestamps."""

from __future__ import annotations

import numpy as np


class StuckWatch:
    """Told of every frame of one connection; says when and why it is stuck."""

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
