"""Sharpness: the variance of the Laplacian of a downscaled grayscale picture.

Measured on a fixed-width copy because the variance depends on scale: one threshold then fits
every camera resolution, and the cost stays ~2 ms even for 1080p frames.
"""

from __future__ import annotations

import cv2
import numpy as np


def downscaled_gray(image: np.ndarray, width_px: int) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if gray.shape[1] <= width_px:
        return gray
    height_px = max(1, round(gray.shape[0] * width_px / gray.shape[1]))
    return cv2.resize(gray, (width_px, height_px), interpolation=cv2.INTER_AREA)


def laplacian_variance(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())
