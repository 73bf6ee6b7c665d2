"""How often the face detector looks: at full rate while something may change, less often
while the faces in view sit still and nothing is left to find out about them.

The detector is the gate's largest cost after decoding (a 720p frame ~6 ms of CPU, up to
`detect_fps` times a second per camera: bench/pipeline_scale.py). A face that is tracked,
called, settled and not moving gains nothing from five looks a second, and its track needs a
look well within `tracking.left_after_s`. So while every face in the last detections is
*at rest* — the call policy has nothing pending for it (CallPolicy.at_rest: its first call
made, its state settled, its gate mask reading steady) and its box stayed within STILL_SHIFT
of its size for STILL_DETECTIONS detections in a row — the detector runs at `still_detect_fps`.
Anything else brings the full rate back at the next detection: a face that moved, grew or
shrank, one that came or went, or a mask reading that started to change. A face that walks
into a still scene is found at the next slow look (0.5 s at the default 2 a second), and
from then at full rate.
"""

from __future__ import annotations

from collections.abc import Mapping

from streamwatch.analysis.model import Box
from streamwatch.config.model import SelectionSettings

# A box whose centre moved, or whose size changed, by less than this share of its size
# between two detections stood still (a seated or standing person breathing, talking).
STILL_SHIFT = 0.08
# Still detections in a row before the detector slows down: one still pair may be chance.
STILL_DETECTIONS = 3


class DetectionPace:
    """Per camera: feed it every detection's boxes; it says when the next one is due."""

    def __init__(self, settings: SelectionSettings) -> None:
        self._full_interval_s = 1 / settings.detect_fps
        self._still_interval_s = 1 / min(settings.still_detect_fps, settings.detect_fps)
        self._boxes: Mapping[str, Box] = {}
        self._still_in_a_row = 0

    @property
    def slowed(self) -> bool:
        return self._still_in_a_row >= STILL_DETECTIONS

    def interval_s(self) -> float:
        """From this detection to the next."""
        return self._still_interval_s if self.slowed else self._full_interval_s

    def observe(self, boxes: Mapping[str, Box], *, at_rest: bool) -> None:
        """One detection's boxes by track id; `at_rest`: the call policy waits for nothing
        about these faces."""
        still = (
            at_rest
            and bool(boxes)
            and boxes.keys() == self._boxes.keys()
            and all(_stood_still(self._boxes[track_id], box) for track_id, box in boxes.items())
        )
        self._still_in_a_row = self._still_in_a_row + 1 if still else 0
        self._boxes = dict(boxes)


def _stood_still(before: Box, after: Box) -> bool:
    size_px = max(before.width, before.height)
    shift_px = max(
        abs(after.left + after.width / 2 - before.left - before.width / 2),
        abs(after.top + after.height / 2 - before.top - before.height / 2),
        abs(after.width - before.width),
        abs(after.height - before.height),
    )
    return shift_px < STILL_SHIFT * size_px
