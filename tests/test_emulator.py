"""The emulator speaks the API contract: raw HTTP requests, checked against the documented
statuses, codes and public fields."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest

from streamwatch.analysis.contract import API_KEY_HEADER
from streamwatch.analysis.emulator import serve_emulator
from streamwatch.analysis.local import LocalAnalyzer

API_KEY = "sk-emulator-test"
TIMEOUT = aiohttp.ClientTimeout(total=30)  # a failure guard only


def png(height_px: int, width_px: int) -> bytes:
    ok, data = cv2.imencode(".png", np.full((height_px, width_px, 3), 128, np.uint8))
    assert ok
    return bytes(data)


def form(content: bytes, *, field: str = "image") -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field(field, content, filename="frame.jpg", content_type="image/jpeg")
    return data


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with LocalAnalyzer() as local, serve_emulator(local, api_key=API_KEY) as endpoint:
        yield endpoint


async def post(url: str, data: Any, *, key: str | None = API_KEY) -> tuple[int, dict[str, Any]]:
    headers = {} if key is None else {API_KEY_HEADER: key}
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as session,
        session.post(url, data=data, headers=headers) as response,
    ):
        return response.status, await response.json()


async def test_a_face_gets_200_with_the_public_fields_and_data(
    url: str, media_image: Callable[[str], np.ndarray]
) -> None:
    ok, jpeg = cv2.imencode(".jpg", media_image("images/faces/two_people.jpg"))
    assert ok

    status, body = await post(url, form(bytes(jpeg)))

    assert status == 200
    uuid.UUID(body["request_id"])
    assert body["log_id"]
    assert (body["error_code"], body["error_code_str"], body["error_msg"]) == (0, "NO_ERROR", "")
    data = body["data"]
    assert data["face_count"] == 2
    assert len(data["face_rectangles"]) == 8
    assert len(data["landmarks"]) == 2 * 105 * 2
    assert data["landmark_count"] == 105


async def test_no_face_is_422_error_no_face_in_file(
    url: str, media_image: Callable[[str], np.ndarray]
) -> None:
    ok, jpeg = cv2.imencode(".jpg", media_image("images/no_face/beer.jpg"))
    assert ok

    status, body = await post(url, form(bytes(jpeg)))

    assert status == 422
    assert (body["error_code"], body["error_code_str"]) == (422, "ERROR_NO_FACE_IN_FILE")
    assert body["error_detail"]["status_code"] == 422
    assert "data" not in body


@pytest.mark.parametrize("key", [None, "", "sk-wrong"])
async def test_a_missing_or_wrong_key_is_401(url: str, key: str | None) -> None:
    status, body = await post(url, form(png(64, 64)), key=key)

    assert status == 401
    assert body["error_code_str"] == "ERROR_USER_NOT_EXISTS"
    assert body["request_id"]


async def test_without_a_configured_key_any_key_passes_but_one_is_required() -> None:
    async with LocalAnalyzer() as local, serve_emulator(local, api_key=None) as url:
        accepted, _ = await post(url, form(png(64, 64)), key="anything")
        refused, _ = await post(url, form(png(64, 64)), key=None)

    assert accepted == 422  # a flat grey square: past the key check, no face
    assert refused == 401


async def test_a_missing_image_field_is_400_missing_parameters(url: str) -> None:
    status, body = await post(url, form(png(64, 64), field="picture"))

    assert (status, body["error_code_str"]) == (400, "MISSING_PARAMETERS")


async def test_an_empty_image_field_is_400_parameters_cannot_empty(url: str) -> None:
    status, body = await post(url, form(b""))

    assert (status, body["error_code_str"]) == (400, "PARAMETERS_CANNOT_EMPTY")


async def test_a_body_that_is_not_multipart_is_400_error_parameters(url: str) -> None:
    status, body = await post(url, b"raw bytes")

    assert (status, body["error_code_str"]) == (400, "ERROR_PARAMETERS")


@pytest.mark.parametrize(
    "content",
    [b"GIF89a not in the contract", png(32, 200), png(200, 4096)],
    ids=["not-an-image", "32px-high", "4096px-wide"],
)
async def test_an_image_outside_the_rules_is_400_invalid_parameter(
    url: str, content: bytes
) -> None:
    status, body = await post(url, form(content))

    assert (status, body["error_code_str"]) == (400, "ERROR_INVALID_PARAMETER")
    assert body["error_msg"]


async def test_another_path_is_404_error_ai_not_exists(url: str) -> None:
    status, body = await post(url.rsplit("/", 1)[0] + "/face-analyzer", form(png(64, 64)))

    assert (status, body["error_code_str"]) == (404, "ERROR_AI_NOT_EXISTS")


async def test_an_upload_over_20_mb_is_400_invalid_parameter(url: str) -> None:
    status, body = await post(url, form(b"\xff\xd8\xff" + bytes(20_000_000)))

    assert (status, body["error_code_str"]) == (400, "ERROR_INVALID_PARAMETER")
    assert "20000000" in body["error_msg"]
