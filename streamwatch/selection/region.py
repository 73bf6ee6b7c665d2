"""Where the face detector looks: the whole frame now and then, and between, only where a face
can be.

The detector's cost grows with the area it sees (analysis/local/detector.py), and a face can
only be where one is tracked or where something moved: whoever walks in moves, whoever stays
is tracked. So the detector sees the box around every change since its last look (the motion
gate's, grown by `margin_px` on every side: a head moving a little changes only its edge) and
around every tracked face (grown by half its size: a face that moved further moved the
motion box), and the
whole frame at least every `selection.full_frame_detect_s` — a face the motion box cut short,
or one that came in while its track was lost, is found there within that time. When those
boxes cover more than MAX_REGION_SHARE of the frame, the whole frame is hardly dearer.
On the ASL clip (a signer in view all the time) the region is ~a third of the frame and the
detection ~half the CPU of a whole-frame one, finding the same faces of at least 64 px.
"""

from __future__ import annotations

from collections.abc import Iterable

from streamwatch.analysis.model import Box

# Above this share of the frame, the whole frame costs little more than the region.
MAX_REGION_SHARE = 0.6
# A tracked face's box is grown by this many of its own sizes on every side.
TRACK_MARGIN_SIZES = 0.25


class DetectionRegion:
    """One camera's: what moved since the detector's last look, and when it last saw all."""

    def __init__(self, *, full_frame_every_s: float, margin_px: float) -> None:
        """`full_frame_every_s`: 0 looks at the whole frame every time."""
        self._full_frame_every_s = full_frame_every_s
        self._margin_px = margin_px
        self._moved: Box | None = None
        self._last_full_s: float | None = None

    def moved(self, box: Box | None) -> None:
        """The motion gate's box of one frame (None: nothing moved)."""
        if box is not None:
            self._moved = box if self._moved is None else _union(self._moved, box)

    def next_look(
        self, now_s: float, frame_width_px: int, frame_height_px: int, tracked: Iterable[Box]
    ) -> Box | None:
        """Where the detector looks at the frame taken at `now_s` (None: everywhere); what
        moved before it is then forgotten."""
        moved, self._moved = self._moved, None
        due = (
            self._last_full_s is None
            or now_s - self._last_full_s >= self._full_frame_every_s
            or now_s < self._last_full_s  # a clock that went back (a replay restarted)
        )
        boxes = [] if moved is None else [_grown(moved, self._margin_px)]
        boxes += [_grown(box, TRACK_MARGIN_SIZES * box.size_px) for box in tracked]
        frame = Box(0.0, 0.0, float(frame_width_px), float(frame_height_px))
        region = _clipped(_union_of(boxes), frame) if boxes else None
        if due or region is None or region.area > MAX_REGION_SHARE * frame.area:
            self._last_full_s = now_s
            return None
        return region


def _grown(box: Box, by_px: float) -> Box:
    return Box(box.left - by_px, box.top - by_px, box.width + 2 * by_px, box.height + 2 * by_px)


def _union(first: Box, second: Box) -> Box:
    left, top = min(first.left, second.left), min(first.top, second.top)
    right, bottom = max(first.right, second.right), max(first.bottom, second.bottom)
    return Box(left, top, right - left, bottom - top)


def _union_of(boxes: list[Box]) -> Box:
    union = boxes[0]
    for box in boxes[1:]:
        union = _union(union, box)
    return union


def _clipped(box: Box, frame: Box) -> Box | None:
    left, top = max(box.left, frame.left), max(box.top, frame.top)
    right, bottom = min(box.right, frame.right), min(box.bottom, frame.bottom)
    if right <= left or bottom <= top:
        return None
    return Box(left, top, right - left, bottom - top)
