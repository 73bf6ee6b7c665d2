"""Small video files made on the spot: no media needed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def noise_clip(path: Path, *, frames: int, fps: float = 25.0) -> Path:
    """A lossless (FFV1) clip of `frames` noisy 64x48 pictures: never frozen, never still."""
    rng = np.random.default_rng(7)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"FFV1"), fps, (64, 48))
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    assert path.stat().st_size > 0, f"OpenCV wrote no {path}"
    return path


def still_clip(path: Path, picture: np.ndarray, *, seconds: float, fps: float = 15.0) -> Path:
    """A clip of one picture held for `seconds` (MJPG, at the picture's size): a face that
    stands still."""
    height, width = picture.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    try:
        for _ in range(round(seconds * fps)):
            writer.write(picture)
    finally:
        writer.release()
    assert path.stat().st_size > 0, f"OpenCV wrote no {path}"
    return path
