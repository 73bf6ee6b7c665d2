"""The API's image rules: encoding frames for it, decoding uploads to it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streamwatch.analysis.analyzer import AnalyzerError
from streamwatch.analysis.imaging import (
    MAX_SIDE_EXCLUSIVE_PX,
    ImageRuleError,
    decode_upload,
    encode_for_api,
)


def noise(height_px: int, width_px: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height_px, width_px, 3), dtype=np.uint8)


def test_a_frame_within_the_rules_is_sent_as_is() -> None:
    encoded = encode_for_api(noise(480, 640), jpeg_quality=90)

    assert not encoded.downscaled
    assert (encoded.width_px, encoded.height_px, encoded.jpeg_quality) == (640, 480, 90)
    assert decode_upload(encoded.jpeg).shape == (480, 640, 3)


@pytest.mark.parametrize(("height_px", "width_px"), [(32, 640), (480, 32), (10, 10)])
def test_a_frame_of_32_px_or_less_on_a_side_is_a_bad_image(height_px: int, width_px: int) -> None:
    with pytest.raises(AnalyzerError) as caught:
        encode_for_api(noise(height_px, width_px), jpeg_quality=90)

    assert caught.value.reason == "bad_image"
    assert not caught.value.retryable


def test_a_frame_of_4096_px_is_downscaled_below_the_limit() -> None:
    frame = np.zeros((1000, MAX_SIDE_EXCLUSIVE_PX, 3), dtype=np.uint8)

    encoded = encode_for_api(frame, jpeg_quality=90)

    assert encoded.downscaled
    assert encoded.width_px == MAX_SIDE_EXCLUSIVE_PX - 1
    assert encoded.height_px == round(1000 * encoded.scale)
    assert (encoded.frame_width_px, encoded.frame_height_px) == (MAX_SIDE_EXCLUSIVE_PX, 1000)


def test_quality_is_lowered_until_the_jpeg_fits() -> None:
    frame = noise(400, 400)
    full_size = len(encode_for_api(frame, jpeg_quality=95).jpeg)

    encoded = encode_for_api(frame, jpeg_quality=95, max_bytes=full_size // 2)

    assert len(encoded.jpeg) <= full_size // 2
    assert encoded.jpeg_quality < 95


def test_no_quality_small_enough_is_a_bad_image() -> None:
    with pytest.raises(AnalyzerError) as caught:
        encode_for_api(noise(400, 400), jpeg_quality=90, max_bytes=100)

    assert caught.value.reason == "bad_image"


@pytest.mark.parametrize("extension", [".png", ".bmp", ".jpg"])
def test_uploads_in_the_accepted_formats_decode(extension: str) -> None:
    ok, data = cv2.imencode(extension, noise(64, 80))
    assert ok

    assert decode_upload(bytes(data)).shape == (64, 80, 3)


def test_an_upload_outside_the_contract_is_refused() -> None:
    ok, tiff = cv2.imencode(".tiff", noise(64, 80))
    assert ok
    ok, tiny = cv2.imencode(".png", noise(20, 80))
    assert ok

    for data in (b"hello, not an image", bytes(tiff), bytes(tiny), b"\xff\xd8\xff broken"):
        with pytest.raises(ImageRuleError):
            decode_upload(data)
