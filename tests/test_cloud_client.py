"""CloudAnalyzer over real HTTP on 127.0.0.1: against the emulator with the local analyzer, and
against small fake servers for what the emulator does not do (the exact request, either
envelope shape alone, nothing listening). The error table row by row, against the emulator's
fault injection, is in test_contract.py."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp import web
from pydantic import SecretStr

from streamwatch.analysis.analyzer import AnalyzerError
from streamwatch.analysis.client import CloudAnalyzer
from streamwatch.analysis.contract import API_KEY_HEADER, ENDPOINT_PATH
from streamwatch.analysis.emulator import serve_emulator
from streamwatch.analysis.envelope import (
    ERROR_AI_NOT_EXISTS,
    ERROR_INVALID_PARAMETER,
    ERROR_NOT_ENOUGH_CREDITS,
    ERROR_USER_LOCKED,
    ERROR_USER_NOT_EXISTS,
    PROCESSING_FAILURE,
    ApiError,
    EnvelopeShape,
    error_envelope,
    success_envelope,
)
from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.model import Box, Face, FaceAnalysis
from streamwatch.analysis.retry import RetryPolicy
from streamwatch.analysis.wire import to_data
from streamwatch.config.model import AnalyzerSettings

from .support.api_server import serve

API_KEY = "sk-test-9f8e7d6c5b4a"
# Retries keep their shape but not their patience: the back-off is under 10 ms in all.
FAST_RETRY = RetryPolicy(retries=2, base_delay_s=0.001, max_delay_s=0.004)
GUARD_S = 30.0  # a failure guard only: a test that needs it has already failed


def settings(url: str, *, api_key: str = API_KEY, timeout_s: float = 10.0) -> AnalyzerSettings:
    return AnalyzerSettings(kind="ailab", url=url, api_key=SecretStr(api_key), timeout_s=timeout_s)


async def analyze(url: str, image: np.ndarray, **overrides: Any) -> FaceAnalysis:
    async with CloudAnalyzer(settings(url, **overrides), retry=FAST_RETRY) as analyzer:
        return await asyncio.wait_for(analyzer.analyze(image), GUARD_S)


def reply(error: ApiError, shape: EnvelopeShape = "both") -> web.Response:
    body = error_envelope(error, request_id="req-fake", log_id="LOG", shape=shape)
    return web.json_response(body, status=error.http_status)


def one_face_data() -> dict[str, Any]:
    face = Face(box_px=Box(40, 30, 100, 120), probability=0.99)
    analysis = FaceAnalysis(faces=(face,), image_width_px=320, image_height_px=240, analyzer="x")
    return to_data(analysis)


@pytest.fixture
async def emulator_url() -> AsyncIterator[str]:
    async with LocalAnalyzer() as local, serve_emulator(local, api_key=API_KEY) as url:
        yield url


# --- against the emulator (LocalAnalyzer behind the real contract) ------------------------------


async def test_a_face_photo_gives_faces(
    emulator_url: str, media_image: Callable[[str], np.ndarray]
) -> None:
    frame = media_image("images/faces/obama.jpg")
    async with LocalAnalyzer() as local:
        direct = await local.analyze(frame)

    analysis = await analyze(emulator_url, frame)

    assert analysis.analyzer == "ailab"
    assert analysis.request_id
    assert (analysis.image_width_px, analysis.image_height_px) == (910, 1137)
    assert analysis.face_count == 1
    # Only the JPEG round trip lies between the two.
    assert analysis.faces[0].box_px.iou(direct.faces[0].box_px) > 0.9
    # What the local analyzer cannot estimate stays unknown across the wire.
    assert analysis.faces[0].gender is None
    assert analysis.faces[0].pose is not None


async def test_an_image_without_a_face_is_zero_faces_not_an_error(
    emulator_url: str, media_image: Callable[[str], np.ndarray]
) -> None:
    frame = media_image("images/no_face/beer.jpg")

    analysis = await analyze(emulator_url, frame)

    assert analysis.face_count == 0
    assert analysis.request_id
    assert (analysis.image_width_px, analysis.image_height_px) == (640, 640)


async def test_a_wrong_key_is_auth_and_the_key_shows_nowhere(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong_key = "sk-wrong-0123456789"
    async with LocalAnalyzer() as local, serve_emulator(local, api_key=API_KEY) as url:
        with caplog.at_level(logging.DEBUG):
            analyzer = CloudAnalyzer(settings(url, api_key=wrong_key), retry=FAST_RETRY)
            async with analyzer:
                with pytest.raises(AnalyzerError) as caught:
                    await asyncio.wait_for(
                        analyzer.analyze(np.full((64, 64, 3), 128, np.uint8)), GUARD_S
                    )

    error = caught.value
    assert (error.reason, error.retryable) == ("auth", False)
    assert error.request_id
    assert "ERROR_USER_NOT_EXISTS" in str(error)
    for text in (str(error), repr(error), repr(analyzer), caplog.text):
        assert wrong_key not in text


async def test_a_tiny_image_is_a_bad_image_before_any_call(emulator_url: str) -> None:
    with pytest.raises(AnalyzerError) as caught:
        await analyze(emulator_url, np.zeros((20, 20, 3), np.uint8))

    assert (caught.value.reason, caught.value.retryable) == ("bad_image", False)


async def test_a_frame_over_4096_px_is_downscaled_and_boxes_come_back_in_frame_pixels(
    emulator_url: str, media_image: Callable[[str], np.ndarray]
) -> None:
    portrait = media_image("images/faces/obama.jpg")
    async with LocalAnalyzer() as local:
        expected = (await local.analyze(portrait)).faces[0].box_px
    zoom, left_px, top_px = 2.5, 1200, 300
    big = cv2.resize(portrait, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    frame = np.full((3600, 4600, 3), 90, np.uint8)
    frame[top_px : top_px + big.shape[0], left_px : left_px + big.shape[1]] = big
    expected_px = Box(
        expected.left * zoom + left_px,
        expected.top * zoom + top_px,
        expected.width * zoom,
        expected.height * zoom,
    )

    analysis = await analyze(emulator_url, frame)

    assert (analysis.image_width_px, analysis.image_height_px) == (4600, 3600)
    assert analysis.face_count == 1
    assert analysis.faces[0].box_px.iou(expected_px) > 0.8


# --- against fake servers ----------------------------------------------------------------------


async def test_a_server_error_is_retried_and_the_retry_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    requests: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["image"]
        assert isinstance(upload, web.FileField)
        requests.append(
            {
                "key": request.headers.get(API_KEY_HEADER),
                "filename": upload.filename,
                "content_type": upload.content_type,
                "jpeg": upload.file.read()[:3],
            }
        )
        if len(requests) == 1:
            return reply(PROCESSING_FAILURE)
        return web.json_response(success_envelope(one_face_data(), request_id="r2", log_id="L"))

    async with serve(handler) as url:
        with caplog.at_level(logging.DEBUG, logger="streamwatch.analysis"):
            analysis = await analyze(url, np.full((240, 320, 3), 100, np.uint8))

    assert len(requests) == 2
    # Each answer's log line carries its request_id as a field, for the JSON logs.
    answered = [r for r in caplog.records if hasattr(r, "request_id")]
    assert [(r.levelname, r.request_id) for r in answered] == [
        ("WARNING", "req-fake"),  # the failed attempt, retried
        ("DEBUG", "r2"),  # the answer
    ]
    assert requests[0] == {
        "key": API_KEY,
        "filename": "frame.jpg",
        "content_type": "image/jpeg",
        "jpeg": b"\xff\xd8\xff",
    }
    assert analysis.request_id == "r2"
    assert analysis.faces[0].box_px == Box(40, 30, 100, 120)


@pytest.mark.parametrize(
    ("error", "shape", "reason"),
    [
        (ERROR_USER_NOT_EXISTS, "detail", "auth"),
        (ERROR_USER_LOCKED, "legacy", "auth"),
        (ERROR_AI_NOT_EXISTS, "both", "auth"),
        (ERROR_NOT_ENOUGH_CREDITS, "both", "credits"),
        (ERROR_INVALID_PARAMETER, "detail", "bad_request"),
    ],
)
async def test_client_side_errors_are_not_retried(
    error: ApiError, shape: EnvelopeShape, reason: str
) -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        await request.read()
        return reply(error, shape)

    async with serve(handler) as url:
        with pytest.raises(AnalyzerError) as caught:
            await analyze(url, np.full((240, 320, 3), 100, np.uint8))

    assert calls == 1
    assert (caught.value.reason, caught.value.retryable) == (reason, False)
    assert caught.value.request_id == "req-fake"
    assert error.code in str(caught.value)


async def test_nothing_listening_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port was free a moment ago and nothing listens there now.
    url = f"http://127.0.0.1:{port}{ENDPOINT_PATH}"

    with pytest.raises(AnalyzerError) as caught:
        await analyze(url, np.full((240, 320, 3), 100, np.uint8))

    assert (caught.value.reason, caught.value.retryable) == ("connection", True)


def test_the_key_is_not_in_the_analyzers_repr() -> None:
    analyzer = CloudAnalyzer(settings("http://127.0.0.1:1/x"))

    assert API_KEY not in repr(analyzer)
    assert "127.0.0.1" in repr(analyzer)
