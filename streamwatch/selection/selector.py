"""The frame selector: which frames are candidates for an analysis."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streamwatch.capture.frame import Frame
from streamwatch.config.model import SelectionSettings
from streamwatch.selection.sharpness import downscaled_gray, laplacian_variance


class Verdict(StrEnum):
    CANDIDATE = "candidate"
    TOO_SOON = "too_soon"  # within min_interval_s of the previous candidate
    BLURRED = "blurred"


@dataclass(frozen=True, slots=True)
class Selection:
    frame: Frame
    verdict: Verdict
    sharpness: float | None  # None when not measured (too soon: not worth the 2 ms)


class FrameSelector:
    """Per camera: a frame is a candidate when sharp enough and not too soon after the last."""

    def __init__(self, settings: SelectionSettings) -> None:
        self._settings = settings
        self._last_candidate_s: float | None = None

    def consider(self, frame: Frame) -> Selection:
        since_s = (
            None if self._last_candidate_s is None else frame.monotonic_s - self._last_candidate_s
        )
        if since_s is not None and since_s < self._settings.min_interval_s:
            return Selection(frame, Verdict.TOO_SOON, None)
        gray = downscaled_gray(frame.image, self._settings.downscale_width_px)
        sharpness = laplacian_variance(gray)
        if sharpness < self._settings.sharpness_threshold:
            return Selection(frame, Verdict.BLURRED, sharpness)
        self._last_candidate_s = frame.monotonic_s
        return Selection(frame, Verdict.CANDIDATE, sharpness)
