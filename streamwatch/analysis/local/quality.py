"""The contract's quality scores (0..100, higher = better for recognition), and how each is made.

- fnf: 100 x the detector's score.
- blur: 100 (1 - exp(-v / 250)), v = variance of the Laplacian of the grey chip's face area.
  A crisp face gives v > 1000 (98), a defocused one v < 40 (15); 85 is v = 474.
- illu: 100 x exposure x balance. exposure = 1 - abs(L - 128) / 128 for the median lightness
  L (0..255) of the chip's face area; balance = 1 - abs(Ll - Lr) / (Ll + Lr) of its halves.
- noise: 100 / (1 + (s / 10)^2), s = Immerkær's noise sigma (grey levels) of the face box at
  the frame's own resolution: 92 at s = 3, 50 at s = 10.
- pose: 100 x cos(yaw) x cos(pitch).
- mask: 100 x the skin fraction of the lower face (mask.py); None when the face is too small.
- glass: not estimated (None).
- score: the lowest of the others: a face is as usable as its worst aspect.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from streamwatch.analysis.model import Box, Pose, Qualities

# The chip's face area, inside the cheeks and from the brows to the chin (left, right, top,
# bottom): the background at the chip's corners must not count as blur or light.
FACE_AREA = (20, 92, 30, 108)
SHARP_LAPLACIAN_VARIANCE = 250.0
MID_GREY = 128.0
NOISE_HALF_SIGMA = 10.0
# Immerkær (1996): the noise sigma from one 3x3 mask that cancels image structure to 2nd order.
_IMMERKAER_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


def qualities(
    *,
    chip: np.ndarray,
    image: np.ndarray,
    box: Box,
    probability: float,
    pose: Pose,
    lower_face_skin: float | None,
) -> Qualities:
    left, right, top, bottom = FACE_AREA
    face = cv2.cvtColor(chip[top:bottom, left:right], cv2.COLOR_BGR2GRAY)
    scores = {
        "fnf": 100 * probability,
        "blur": 100 * (1 - math.exp(-_laplacian_variance(face) / SHARP_LAPLACIAN_VARIANCE)),
        "illu": _illumination(chip[top:bottom, left:right]),
        "noise": 100 / (1 + (_noise_sigma(image, box) / NOISE_HALF_SIGMA) ** 2),
        "pose": 100 * math.cos(math.radians(pose.yaw_deg)) * math.cos(math.radians(pose.pitch_deg)),
    }
    if lower_face_skin is not None:
        scores["mask"] = 100 * lower_face_skin
    rounded = {name: round(max(0.0, min(100.0, value)), 1) for name, value in scores.items()}
    return Qualities(score=min(rounded.values()), **rounded)


def _laplacian_variance(grey: np.ndarray) -> float:
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _illumination(face_bgr: np.ndarray) -> float:
    lightness = cv2.cvtColor(face_bgr, cv2.COLOR_BGR2LAB)[:, :, 0].astype(np.float64)
    exposure = 1 - abs(float(np.median(lightness)) - MID_GREY) / MID_GREY
    half = lightness.shape[1] // 2
    left, right = float(lightness[:, :half].mean()), float(lightness[:, half:].mean())
    balance = 1 - abs(left - right) / max(left + right, 1.0)
    return 100 * exposure * balance


def _noise_sigma(image: np.ndarray, box: Box) -> float:
    left, top, width, height = box.as_ints()
    crop = image[max(top, 0) : max(top + height, 0), max(left, 0) : max(left + width, 0)]
    if min(crop.shape[:2]) < 3:
        return 0.0
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)
    response = cv2.filter2D(grey, -1, _IMMERKAER_KERNEL)[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2) * np.abs(response).mean() / 6)
