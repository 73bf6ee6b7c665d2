"""Canvas: the picture the layers draw on, with what they share about it.

One canvas per drawn picture: the image (a copy the drawing owns), the scale of its text, the
faces where they are in this picture (followed to the frame's time and scaled once, for every
layer), and the areas the panels took, so the face labels drawn last keep out of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streamwatch.analysis.model import Face


@dataclass(frozen=True, slots=True)
class Rect:
    left: int
    top: int
    width: int
    height: int

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def empty(self) -> bool:
        return self.width <= 0 or self.height <= 0

    def overlaps(self, other: Rect) -> bool:
        if self.empty or other.empty:
            return False
        return (
            self.left < other.right
            and other.left < self.right
            and self.top < other.bottom
            and other.top < self.bottom
        )

    def inside(self, width_px: int, height_px: int) -> bool:
        return (
            self.left >= 0 and self.top >= 0 and self.right <= width_px and self.bottom <= height_px
        )


@dataclass
class Canvas:
    image: np.ndarray  # BGR, drawn on in place: a copy made for this picture
    unit: float  # pixels per design pixel (overlay.style.unit_for)
    faces: tuple[Face, ...]  # the scene's tracks' faces in this picture, in the tracks' order
    taken: list[Rect] = field(default_factory=list)  # what panels and labels cover

    @property
    def width_px(self) -> int:
        return int(self.image.shape[1])

    @property
    def height_px(self) -> int:
        return int(self.image.shape[0])

    def take(self, rect: Rect) -> Rect:
        """Mark `rect` as covered (labels keep out of it); returns it."""
        if not rect.empty:
            self.taken.append(rect)
        return rect

    def is_free(self, rect: Rect) -> bool:
        return rect.inside(self.width_px, self.height_px) and not any(
            rect.overlaps(taken) for taken in self.taken
        )
