"""Privacy: faces made unrecognisable, in the overlay and (for events) in crops.

Pixelation rather than a Gaussian blur: a blur of moderate strength can be partly undone and
still lets a face be matched, while averaging the face into a few coarse cells throws the
detail away for good. The box is grown by a margin first, because detector boxes are tight
and the hair line, ears and chin identify people too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import cv2
import numpy as np

from streamwatch.analysis.model import Box

# Cells across the (grown) box: a face becomes a mosaic of about this many blocks a side.
FACE_CELLS: Final = 8
# Grown by this share of the box's size on every side.
FACE_MARGIN: Final = 0.25


def blur_boxes(
    image: np.ndarray, boxes: Iterable[Box], *, margin: float = FACE_MARGIN, cells: int = FACE_CELLS
) -> np.ndarray:
    """A copy of `image` with every box (grown by `margin` on each side) pixelated.

    Boxes are in the image's pixels; parts outside the image are ignored. For a face crop
    whose face fills the picture, pass `Box(0, 0, width, height)`.
    """
    blurred = image.copy()
    blur_boxes_in_place(blurred, boxes, margin=margin, cells=cells)
    return blurred


def blur_boxes_in_place(
    image: np.ndarray, boxes: Iterable[Box], *, margin: float = FACE_MARGIN, cells: int = FACE_CELLS
) -> None:
    """`blur_boxes` on an image the caller owns (the overlay draws on its own copy)."""
    if cells < 1:
        raise ValueError(f"cells must be at least 1, got {cells}")
    height_px, width_px = image.shape[:2]
    for box in boxes:
        grow_x, grow_y = box.width * margin, box.height * margin
        left = max(int(box.left - grow_x), 0)
        top = max(int(box.top - grow_y), 0)
        right = min(int(np.ceil(box.right + grow_x)), width_px)
        bottom = min(int(np.ceil(box.bottom + grow_y)), height_px)
        if right <= left or bottom <= top:
            continue
        region = image[top:bottom, left:right]
        cells_x = max(1, min(cells, right - left))
        cells_y = max(1, min(round(cells * (bottom - top) / (right - left)), bottom - top))
        # INTER_AREA averages each cell; NEAREST scales the cells back up as flat blocks.
        coarse = cv2.resize(region, (cells_x, cells_y), interpolation=cv2.INTER_AREA)
        region[:] = cv2.resize(
            coarse, (right - left, bottom - top), interpolation=cv2.INTER_NEAREST
        )
