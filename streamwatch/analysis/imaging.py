"""Images as the Face Analyzer API takes them: encoding frames for it, decoding uploads to it.

The contract's image rules (shared/api/face-analyzer-advanced.md) live here once, so the
client enforces exactly what the emulator checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from streamwatch.analysis.analyzer import AnalyzerError
from streamwatch.analysis.image_header import header_size_px

# "Larger than 32x32 and smaller than 4096x4096": both bounds are exclusive.
MIN_SIDE_EXCLUSIVE_PX = 32
MAX_SIDE_EXCLUSIVE_PX = 4096
# "At most 20 MB": the decimal reading, the stricter one, so that neither reading rejects us.
MAX_IMAGE_BYTES = 20_000_000
MIN_JPEG_QUALITY = 10
JPEG_QUALITY_STEP = 10

# Magic numbers of the formats the API accepts; anything else OpenCV could decode (TIFF,
# WebP, …) is not in the contract and must be refused like the service would.
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM")


@dataclass(frozen=True, slots=True)
class EncodedImage:
    """A frame made ready for the API.

    `scale` is encoded size / frame size (1.0 when the frame was small enough): map the
    answer back to frame pixels with `analysis.scaled(1 / scale)`.
    """

    jpeg: bytes
    width_px: int
    height_px: int
    frame_width_px: int
    frame_height_px: int
    scale: float
    jpeg_quality: int

    @property
    def downscaled(self) -> bool:
        return self.scale != 1.0


class ImageRuleError(ValueError):
    """Uploaded bytes the API would refuse: not a JPG/PNG/BMP, or outside the size rules."""


def encode_for_api(
    frame: np.ndarray, *, jpeg_quality: int, max_bytes: int = MAX_IMAGE_BYTES
) -> EncodedImage:
    """JPEG-encode a BGR (or grayscale) uint8 frame within the API's rules.

    Too small → AnalyzerError(reason="bad_image"). Too large → downscaled (INTER_AREA) below
    the limit. Too many bytes → re-encoded at lower quality, down to MIN_JPEG_QUALITY.
    """
    check_frame(frame)
    frame_height_px, frame_width_px = int(frame.shape[0]), int(frame.shape[1])

    scale = 1.0
    image = frame
    longest_px = max(frame_width_px, frame_height_px)
    if longest_px >= MAX_SIDE_EXCLUSIVE_PX:
        scale = (MAX_SIDE_EXCLUSIVE_PX - 1) / longest_px
        size = (
            min(round(frame_width_px * scale), MAX_SIDE_EXCLUSIVE_PX - 1),
            min(round(frame_height_px * scale), MAX_SIDE_EXCLUSIVE_PX - 1),
        )
        image = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        # A long thin frame can shrink below the minimum on its short side.
        _require_min_side(size[0], size[1], "downscaled frame")

    quality = jpeg_quality
    while True:
        jpeg = _jpeg(image, quality)
        if len(jpeg) <= max_bytes:
            break
        if quality <= MIN_JPEG_QUALITY:
            raise AnalyzerError(
                f"JPEG is {len(jpeg)} bytes even at quality {quality}; the API takes at most "
                f"{max_bytes}",
                reason="bad_image",
                retryable=False,
            )
        quality = max(MIN_JPEG_QUALITY, quality - JPEG_QUALITY_STEP)
    return EncodedImage(
        jpeg=jpeg,
        width_px=int(image.shape[1]),
        height_px=int(image.shape[0]),
        frame_width_px=frame_width_px,
        frame_height_px=frame_height_px,
        scale=scale,
        jpeg_quality=quality,
    )


def check_frame(frame: np.ndarray) -> None:
    """AnalyzerError(reason="bad_image") for a frame no encoding makes acceptable: not 8-bit
    grey/BGR/BGRA, or 32 px or less on a side. Cheap: it looks at the shape only."""
    if (
        frame.dtype != np.uint8
        or frame.ndim not in (2, 3)
        or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4))
    ):
        raise AnalyzerError(
            f"not an 8-bit image: shape {frame.shape}, dtype {frame.dtype}",
            reason="bad_image",
            retryable=False,
        )
    _require_min_side(int(frame.shape[1]), int(frame.shape[0]), "frame")


def decode_upload(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES) -> np.ndarray:
    """The BGR image of uploaded bytes, or ImageRuleError saying which rule they break."""
    if len(data) > max_bytes:
        raise ImageRuleError(f"image is {len(data)} bytes; at most {max_bytes} allowed")
    if not data.startswith(_SIGNATURES):
        raise ImageRuleError("not a JPG/JPEG, PNG or BMP image")
    declared = header_size_px(data)
    if declared is None:
        raise ImageRuleError("image header could not be read")
    # The size rules on the header's word first: a small upload may claim a huge picture.
    _check_upload_sides(*declared)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageRuleError("image data could not be decoded")
    _check_upload_sides(int(image.shape[1]), int(image.shape[0]))
    return image


def _check_upload_sides(width_px: int, height_px: int) -> None:
    if min(width_px, height_px) <= MIN_SIDE_EXCLUSIVE_PX:
        raise ImageRuleError(
            f"image is {width_px}x{height_px} px; it must be larger than "
            f"{MIN_SIDE_EXCLUSIVE_PX}x{MIN_SIDE_EXCLUSIVE_PX}"
        )
    if max(width_px, height_px) >= MAX_SIDE_EXCLUSIVE_PX:
        raise ImageRuleError(
            f"image is {width_px}x{height_px} px; it must be smaller than "
            f"{MAX_SIDE_EXCLUSIVE_PX}x{MAX_SIDE_EXCLUSIVE_PX}"
        )


def _require_min_side(width_px: int, height_px: int, what: str) -> None:
    if min(width_px, height_px) <= MIN_SIDE_EXCLUSIVE_PX:
        raise AnalyzerError(
            f"{what} is {width_px}x{height_px} px; the API needs more than "
            f"{MIN_SIDE_EXCLUSIVE_PX} px on each side",
            reason="bad_image",
            retryable=False,
        )


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise AnalyzerError(
            "OpenCV could not JPEG-encode the frame", reason="bad_image", retryable=False
        )
    return bytes(buffer)
