"""Sharpness: the variance of the Laplacian, on a face or on a whole frame.

Always measured on a copy of fixed size, because the variance depends on scale: one
threshold then fits every camera resolution and every face size.
"""

from __future__ import annotations

from collections import deque
from statistics import median

import cv2
import numpy as np

from streamwatch.analysis.model import Box

FACE_SAMPLE_PX = 96


def downscaled_gray(image: np.ndarray, width_px: int) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if gray.shape[1] <= width_px:
        return gray
    height_px = max(1, round(gray.shape[0] * width_px / gray.shape[1]))
    return cv2.resize(gray, (width_px, height_px), interpolation=cv2.INTER_AREA)


def laplacian_variance(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def face_sharpness(image: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian of the face, resampled to FACE_SAMPLE_PX square."""
    left, top, width, height = box.as_ints()
    crop = image[max(top, 0) : max(top + height, 0), max(left, 0) : max(left + width, 0)]
    if crop.size == 0:
        return 0.0
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    sample = cv2.resize(gray, (FACE_SAMPLE_PX, FACE_SAMPLE_PX), interpolation=cv2.INTER_AREA)
    return laplacian_variance(sample)


class SharpnessHistory:
    """A camera's recent face sharpness, to judge a face against what this camera delivers.

    A soft camera (a cheap lens, a dirty dome) never reaches a fixed threshold; relative to its
    own median it still has best frames, and those are the ones to send.
    """

    def __init__(self, size: int = 200, warm_up: int = 10) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._warm_up = warm_up

    def relative(self, sharpness: float) -> float:
        """`sharpness` over the recent median (1.0 until enough history), then remember it."""
        ratio = 1.0
        if len(self._values) >= self._warm_up:
            typical = median(self._values)
            ratio = sharpness / typical if typical > 0 else 1.0
        self._values.append(sharpness)
        return ratio
