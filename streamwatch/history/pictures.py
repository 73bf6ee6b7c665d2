"""An alarm's pictures: the whole frame it was decided on, and the face, as JPEG.

With `overlay.blur_faces` every face in the frame is pixelated before anything is encoded,
so neither picture ever holds a recognisable face. Encoding a 1080p frame takes ~10 ms: this
runs on the history's thread, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from streamwatch.analysis.model import Box
from streamwatch.events.crop import crop_jpeg, face_box
from streamwatch.events.model import Event
from streamwatch.overlay.privacy import blur_boxes
from streamwatch.overlay.shared_jpeg import encode_jpeg

FRAME_QUALITY: Final = 85
FACE_MAX_BYTES: Final = 60_000


def alarm_pictures(
    alert: Event, image: np.ndarray, faces: Sequence[Box], *, blur: bool
) -> tuple[bytes, bytes | None]:
    """(the frame, the face or None) of `alert`, decided on `image` where `faces` are."""
    box = face_box(alert)
    if blur:
        image = blur_boxes(image, [*faces, *([box] if box is not None else [])])
    face = None if box is None else crop_jpeg(image, box, max_bytes=FACE_MAX_BYTES)
    return encode_jpeg(image, FRAME_QUALITY), face
