"""The face crop attached to events: a small JPEG, never over its byte cap."""

from __future__ import annotations

import base64

import cv2
import numpy as np

from streamwatch.analysis.model import Box

MARGIN = 0.25  # of the face box on each side: hair, chin and mask belong in the picture
QUALITIES = (85, 70, 55, 40)


def crop_jpeg_base64(image: np.ndarray, box: Box, *, max_bytes: int) -> str | None:
    """The face with a margin as base64 JPEG of at most max_bytes (None if it cannot fit)."""
    left, top, width, height = box.as_ints()
    margin_x, margin_y = round(width * MARGIN), round(height * MARGIN)
    crop = image[
        max(0, top - margin_y) : max(0, top + height + margin_y),
        max(0, left - margin_x) : max(0, left + width + margin_x),
    ]
    if crop.size == 0:
        return None
    # Smaller and coarser until it fits: the cap keeps events small for MQTT and webhooks.
    while min(crop.shape[:2]) >= 16:
        for quality in QUALITIES:
            ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and len(encoded) <= max_bytes:
                return base64.b64encode(encoded.tobytes()).decode("ascii")
        crop = cv2.resize(
            crop, (crop.shape[1] // 2, crop.shape[0] // 2), interpolation=cv2.INTER_AREA
        )
    return None
