"""The aligned face chip: the face warped so its five points land on fixed positions.

The 112x112 ArcFace layout is what SFace was trained on; the mask measure, the expression and
the quality scores read regions of the same chip, so they are defined once, in chip pixels,
whatever the face's size, position and roll in the frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from streamwatch.analysis.model import Point

CHIP_PX = 112
# Right eye, left eye, nose tip, right and left mouth corners (subject's sides), in chip px.
CHIP_POINTS_PX = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)
CHIP_EYE_DISTANCE_PX = float(np.linalg.norm(CHIP_POINTS_PX[1] - CHIP_POINTS_PX[0]))


def chip_transform(points: tuple[Point, ...]) -> np.ndarray:
    """The 2x3 similarity (rotation, scale, shift) taking the five points nearest the chip's.

    Least squares over all five points (Umeyama's closed form), as OpenCV's own alignCrop
    does: always defined, no random sampling, so one frame always gives one chip.
    """
    source = np.array([(p.x, p.y) for p in points[:5]], dtype=np.float64)
    target = CHIP_POINTS_PX.astype(np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    centred_source, centred_target = source - source_mean, target - target_mean
    covariance = centred_target.T @ centred_source / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    reflection = np.diag([1.0, float(np.sign(np.linalg.det(u @ vt)) or 1.0)])
    rotation = u @ reflection @ vt
    variance = float((centred_source**2).sum() / len(source)) or 1.0
    scale = float(np.trace(np.diag(singular) @ reflection)) / variance
    shift = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, shift[:, np.newaxis]])


def aligned_chip(image: np.ndarray, points: tuple[Point, ...]) -> np.ndarray:
    """A CHIP_PX square BGR chip; parts of it outside the frame are black."""
    return cv2.warpAffine(image, chip_transform(points), (CHIP_PX, CHIP_PX), flags=cv2.INTER_LINEAR)


def chip_region(chip: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of a (left, right, top, bottom) rectangle of the chip, as rows of channels."""
    left, right, top, bottom = region
    return chip[top:bottom, left:right].reshape(-1, chip.shape[2] if chip.ndim == 3 else 1)
