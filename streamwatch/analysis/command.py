"""What `streamwatch analyze` reads and prints: an image file, checked before it is decoded,
and the faces an analyzer found in it as a table."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from streamwatch.analysis.image_header import header_size_px
from streamwatch.analysis.model import FaceAnalysis
from streamwatch.errors import CommandError

# The largest image read (bytes) and decoded (pixels, read from its header first: a few
# hundred bytes may claim gigapixels). 100 MP is beyond any camera streamwatch watches.
MAX_ANALYZE_BYTES = 200_000_000
MAX_ANALYZE_PIXELS = 100_000_000


def read_image(path: Path) -> np.ndarray:
    """The BGR picture of an image file, its size checked on its header before decoding."""
    try:
        if path.stat().st_size > MAX_ANALYZE_BYTES:
            raise CommandError(f"{path}: larger than {MAX_ANALYZE_BYTES // 1_000_000} MB")
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise CommandError(f"{path}: no such file") from None
    except OSError as error:
        raise CommandError(f"{path}: cannot read it: {error.strerror}") from None
    declared = header_size_px(data)
    if declared is None:
        raise CommandError(f"{path}: not a JPEG, PNG or BMP image")
    width_px, height_px = declared
    if width_px * height_px > MAX_ANALYZE_PIXELS:
        raise CommandError(
            f"{path}: its header claims {width_px}x{height_px} px, more than the "
            f"{MAX_ANALYZE_PIXELS // 1_000_000} megapixels streamwatch decodes"
        )
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    if image is None:
        raise CommandError(f"{path}: its image data cannot be decoded (cut short or corrupt)")
    return image


def face_table(analysis: FaceAnalysis) -> str:
    lines = [
        f"{analysis.face_count} face(s) in {analysis.image_width_px}x{analysis.image_height_px} "
        f"px ({analysis.analyzer} analyzer)"
    ]
    if analysis.faces:
        header = (
            f"{'#':>2}  {'left':>5} {'top':>5} {'width':>5} {'height':>6}  {'prob':>5}  "
            f"{'mask':<9} {'age':>3} {'gender':<6} {'yaw/pitch/roll':<16} {'blur':>4}"
        )
        lines.append(header)
        for index, face in enumerate(analysis.faces, start=1):
            left, top, width, height = face.box_px.as_ints()
            pose = (
                "-"
                if face.pose is None
                else f"{face.pose.yaw_deg:.0f}/{face.pose.pitch_deg:.0f}/{face.pose.roll_deg:.0f}"
            )
            lines.append(
                f"{index:>2}  {left:>5} {top:>5} {width:>5} {height:>6}  {face.probability:>5.2f}  "
                f"{_word(face.mask):<9} {_word(face.age):>3} {_word(face.gender):<6} {pose:<16} "
                f"{_word(face.qualities.blur):>4}"
            )
    return "\n".join(lines)


def _word(value: object) -> str:
    if value is None:
        return "-"
    if hasattr(value, "name"):
        return str(value.name).lower()
    if isinstance(value, float):
        return f"{value:.0f}"
    return str(value)
