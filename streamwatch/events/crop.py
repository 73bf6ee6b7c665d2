"""The face crop attached to events: a small JPEG, never over its byte cap.

Encoding takes ~10 ms a face: callers on the event loop run `with_crops` in a thread.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import replace
from typing import assert_never

import cv2
import numpy as np

from streamwatch.analysis.model import Box
from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event

MARGIN = 0.25  # of the face box on each side: hair, chin and mask belong in the picture
QUALITIES = (85, 70, 55, 40)


def crop_jpeg_base64(image: np.ndarray, box: Box, *, max_bytes: int) -> str | None:
    """The face with a margin as base64 JPEG of at most max_bytes (None if it cannot fit)."""
    jpeg = crop_jpeg(image, box, max_bytes=max_bytes)
    return None if jpeg is None else base64.b64encode(jpeg).decode("ascii")


def crop_jpeg(image: np.ndarray, box: Box, *, max_bytes: int) -> bytes | None:
    """The face with a margin as JPEG of at most max_bytes (None if it cannot fit)."""
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
                return encoded.tobytes()
        crop = cv2.resize(
            crop, (crop.shape[1] // 2, crop.shape[0] // 2), interpolation=cv2.INTER_AREA
        )
    return None


def with_crops(events: Sequence[Event], image: np.ndarray, *, max_bytes: int) -> list[Event]:
    """The events, each one about a face in `image` with that face's crop (the box its
    payload gives); the others as they are."""
    cropped = []
    for event in events:
        if (box := face_box(event)) is not None:
            crop = crop_jpeg_base64(image, box, max_bytes=max_bytes)
            event = replace(event, data={**event.data, "crop_jpeg_base64": crop})
        cropped.append(event)
    return cropped


def face_box(event: Event) -> Box | None:
    """The box of the face an event is about, in the pixels of the frame it was decided on."""
    face = event.data.get("face")
    if not shows_a_face(event.kind) or not isinstance(face, dict) or "box_px" not in face:
        return None
    box = face["box_px"]
    return Box(box["left"], box["top"], box["width"], box["height"])


def shows_a_face(kind: EventKind) -> bool:
    """Whether an event of this kind is about a face in the picture it was decided on: not
    a departure, not the camera's or the analyzer's state, not a person's acknowledgement."""
    match kind:
        case (
            EventKind.FACE_NEW
            | EventKind.FACE_RETURNED
            | EventKind.FACE_MASKLESS
            | EventKind.FACE_MASK_INCORRECT
            | EventKind.FACE_LOW_QUALITY
        ):
            return True
        case (
            EventKind.FACE_LEFT
            | EventKind.CAMERA_OFFLINE
            | EventKind.CAMERA_ONLINE
            | EventKind.ANALYZER_DEGRADED
            | EventKind.ANALYZER_RECOVERED
            | EventKind.ALERT_ACKNOWLEDGED
        ):
            return False
        case _:
            assert_never(kind)
