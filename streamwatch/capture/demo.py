"""The `demo` source: an entrance scene where a real person comes in, stays and leaves.

The person is Grace Hopper's portrait that matplotlib ships (mpl-data/sample_data), so the demo
needs no camera, no download and no media in this repository. Each visit: the person comes
through the door towards the camera (growing as they approach), stays at the kiosk with a
slight sway, walks out sideways at a walking pace, and the corridor stays empty for a while.
Every other visit is mirrored and leaves the other way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FRAME_SIZE_PX = (960, 540)  # width, height
FPS = 15.0
DOOR_THRESHOLD_Y_PX = 390  # where the corridor floor meets the door
FAR_SCALE = 0.5  # the person's size in the door, relative to at the kiosk


@dataclass(frozen=True, slots=True)
class VisitTimeline:
    """Seconds into each cycle at which the person moves; the cycle then repeats."""

    enter_s: float = 1.0  # appears in the door, far away
    entered_s: float = 3.0  # reached the kiosk
    leave_s: float = 9.0  # starts walking out sideways
    left_s: float = 13.5  # out of the picture
    cycle_s: float = 19.0


def portrait_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


class DemoSource:
    description = "demo scene"
    pace_fps: float | None = FPS
    finite = False

    def __init__(self, timeline: VisitTimeline | None = None, seed: int = 7) -> None:
        self.timeline = timeline or VisitTimeline()
        self._rng = np.random.default_rng(seed)
        self._frame_index = 0
        self._background = _corridor(self._rng)
        self._noise = [
            self._rng.normal(0, 3, (FRAME_SIZE_PX[1], FRAME_SIZE_PX[0], 1)).astype(np.int16)
            for _ in range(4)
        ]
        self._person, self._alpha = _person_cutout(portrait_path())

    def open(self) -> None:
        self._frame_index = 0

    def read(self) -> np.ndarray | None:
        t_s = self._frame_index / FPS
        self._frame_index += 1
        noisy = self._background.astype(np.int16) + self._noise[self._frame_index % 4]
        frame: np.ndarray = np.clip(noisy, 0, 255).astype(np.uint8)
        cycle = int(t_s // self.timeline.cycle_s)
        placement = self._placement(t_s % self.timeline.cycle_s, leave_to_right=cycle % 2 == 0)
        if placement is not None:
            centre_x_px, bottom_px, scale = placement
            person, alpha = self._person, self._alpha
            if cycle % 2:
                person, alpha = person[:, ::-1], alpha[:, ::-1]
            if scale < 1:
                size = (round(person.shape[1] * scale), round(person.shape[0] * scale))
                person = cv2.resize(person, size, interpolation=cv2.INTER_AREA)
                alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)[:, :, None]
            sway_px = round(6 * math.sin(t_s * 1.7))
            left_px = round(centre_x_px - person.shape[1] / 2) + sway_px
            _paste(frame, person, alpha, left_px, round(bottom_px) - person.shape[0])
        return frame

    def position_ms(self) -> float | None:
        return self._frame_index * 1000 / FPS

    def reachable(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def _placement(self, t_s: float, *, leave_to_right: bool) -> tuple[float, float, float] | None:
        """(centre x, bottom y, scale) of the person at cycle time t_s; None when absent."""
        tl = self.timeline
        width_px, height_px = FRAME_SIZE_PX
        centre_px = width_px / 2
        if t_s < tl.enter_s or t_s >= tl.left_s:
            return None
        if t_s < tl.entered_s:
            # Decelerating towards the kiosk: far (small, at the door's threshold) to near.
            progress = 1 - (1 - (t_s - tl.enter_s) / (tl.entered_s - tl.enter_s)) ** 2
            bottom_px = DOOR_THRESHOLD_Y_PX + (height_px - DOOR_THRESHOLD_Y_PX) * progress
            return centre_px, bottom_px, FAR_SCALE + (1 - FAR_SCALE) * progress
        if t_s < tl.leave_s:
            return centre_px, height_px, 1.0
        # A steady walking pace out of the side of the picture.
        progress = (t_s - tl.leave_s) / (tl.left_s - tl.leave_s)
        travel_px = (width_px + self._person.shape[1]) / 2 * progress
        return centre_px + (travel_px if leave_to_right else -travel_px), height_px, 1.0


def _corridor(rng: np.random.Generator) -> np.ndarray:
    """A still corridor: walls, floor, a door frame and some texture so frames are sharp."""
    width_px, height_px = FRAME_SIZE_PX
    vertical = np.linspace(0, 1, height_px)[:, None, None]
    wall = np.array([168, 176, 182]) * (0.85 + 0.15 * vertical)
    image = np.broadcast_to(wall, (height_px, width_px, 3)).astype(np.float32)
    image[int(height_px * 0.72) :] = (96, 108, 118)
    image += rng.normal(0, 6, (height_px, width_px, 1)).astype(np.float32)
    canvas = np.ascontiguousarray(np.clip(image, 0, 255), dtype=np.uint8)
    cv2.rectangle(canvas, (380, 60), (580, 390), (70, 80, 90), 12)
    for x_px in range(0, width_px, 120):
        cv2.line(canvas, (x_px, int(height_px * 0.72)), (x_px - 60, height_px), (80, 90, 100), 2)
    cv2.putText(canvas, "ENTRANCE", (410, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (60, 60, 60), 2)
    return canvas


def _person_cutout(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The portrait scaled to a kiosk-distance face, and a soft oval alpha for blending it."""
    portrait = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if portrait is None:
        raise FileNotFoundError(f"demo portrait not found at {path} (is matplotlib installed?)")
    height_px = 440
    scale = height_px / portrait.shape[0]
    portrait = cv2.resize(
        portrait, (round(portrait.shape[1] * scale), height_px), interpolation=cv2.INTER_AREA
    )
    alpha = np.zeros(portrait.shape[:2], np.float32)
    h, w = alpha.shape
    cv2.ellipse(alpha, (w // 2, h // 2 + h // 8), (w // 2 - 8, h // 2 + h // 8), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (31, 31), 0)
    return portrait, alpha[:, :, None]


def _paste(
    frame: np.ndarray, person: np.ndarray, alpha: np.ndarray, left_px: int, top_px: int
) -> None:
    """Blend `person` into `frame` at (left_px, top_px), clipped to the frame."""
    frame_h, frame_w = frame.shape[:2]
    h, w = person.shape[:2]
    x0, x1 = max(left_px, 0), min(left_px + w, frame_w)
    y0, y1 = max(top_px, 0), min(top_px + h, frame_h)
    if x0 >= x1 or y0 >= y1:
        return
    src = (slice(y0 - top_px, y1 - top_px), slice(x0 - left_px, x1 - left_px))
    region = frame[y0:y1, x0:x1].astype(np.float32)
    a = alpha[src]
    frame[y0:y1, x0:x1] = (person[src] * a + region * (1 - a)).astype(np.uint8)
