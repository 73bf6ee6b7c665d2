"""The API key goes into the request header and nowhere else: not into a log record (at DEBUG,
from any logger, aiohttp's included), an exception's text, repr, traceback or chain, the
health detail or a stats label — whatever goes wrong, and even when a server echoes it."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from pydantic import SecretStr

from streamwatch.analysis.analyzer import AnalyzerError
from streamwatch.analysis.client import CloudAnalyzer
from streamwatch.analysis.contract import API_KEY_HEADER, ENDPOINT_PATH
from streamwatch.analysis.emulator import serve_emulator
from streamwatch.analysis.faults import Faults
from streamwatch.analysis.geometric import GeometricAnalyzer, draw_mark
from streamwatch.analysis.model import Box
from streamwatch.config.model import AnalyzerSettings

from .support.api_server import serve
from .support.ports import free_port

KEY = "sk-live-Q7vN2pX9rT4mK8wZ"
FRAME = np.full((240, 320, 3), 120, np.uint8)
draw_mark(FRAME, Box(100, 60, 80, 100))


def settings(url: str, **overrides: Any) -> AnalyzerSettings:
    values: dict[str, Any] = {
        "kind": "ailab",
        "url": url,
        "api_key": SecretStr(KEY),
        "timeout_s": 0.3,
        "retries": 1,
        "retry_base_delay_s": 0.001,
        "retry_max_delay_s": 0.002,
        "breaker_failures": 100,
    }
    return AnalyzerSettings(**(values | overrides))


def chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


@asynccontextmanager
async def echoing_server() -> AsyncIterator[str]:
    """A server that puts the request's key header into its error message and request_id."""

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        echoed = request.headers.get(API_KEY_HEADER, "")
        body = {
            "request_id": f"req-{echoed}",
            "error_code": 400,
            "error_code_str": "ERROR_PARAMETERS",
            "error_msg": f"bad key header {API_KEY_HEADER}: {echoed}",
        }
        return web.json_response(body, status=400)

    async with serve(handler) as url:
        yield url


def free_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}{ENDPOINT_PATH}"


async def test_the_key_is_in_no_log_record_error_health_or_stats_label(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[AnalyzerError] = []
    texts: list[str] = []

    async def exercise(client: CloudAnalyzer, image: np.ndarray = FRAME, times: int = 1) -> None:
        for _ in range(times):
            try:
                await asyncio.wait_for(client.analyze(image), 30)
            except AnalyzerError as error:
                errors.append(error)
        texts.extend([repr(client), repr(client.health), repr(client.stats)])
        texts.extend(client.stats.failed)

    scenarios = [
        (Faults(), "sk-another-key"),  # 401, then refused
        (Faults(script=("403",)), KEY),
        (Faults(error_rates={500: 1.0}), KEY),
        (Faults(error_rates={503: 1.0}), KEY),
        (Faults(latency_s=1.0), KEY),
        (Faults(reset_rate=1.0), KEY),
        (Faults(malformed_rate=1.0), KEY),
        (Faults(slow_body_rate=1.0, slow_body_s=1.0), KEY),
        (Faults(script=("429",)), KEY),
        (Faults(script=("400",)), KEY),
        (Faults(), KEY),  # success, at DEBUG
    ]
    async with GeometricAnalyzer() as engine:
        for faults, emulator_key in scenarios:
            async with (
                serve_emulator(engine, api_key=emulator_key, faults=faults) as url,
                CloudAnalyzer(settings(url)) as client,
            ):
                await exercise(client, times=2)
        async with (
            serve_emulator(engine, api_key=KEY, faults=Faults(reset_rate=1.0)) as url,
            CloudAnalyzer(settings(url, breaker_failures=1)) as client,
        ):
            await exercise(client, times=2)  # the second is refused: circuit open
            await exercise(client, np.zeros((2, 2, 3), np.uint8))  # bad image
    async with echoing_server() as url, CloudAnalyzer(settings(url)) as client:
        await exercise(client)
    async with CloudAnalyzer(settings(free_port_url())) as client:
        await exercise(client)

    reasons = {error.reason for error in errors}
    assert reasons >= {"auth", "server", "timeout", "connection", "malformed", "credits"}
    assert reasons >= {"bad_request", "circuit_open", "bad_image"}
    assert any("[redacted]" in str(error) for error in errors)  # the echo was blotted out
    for error in errors:
        for link in chain(error):
            texts += [str(link), repr(link), *map(repr, link.args)]
        texts.append("".join(traceback.format_exception(error)))
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), record.exc_text or ""]
    texts.append(caplog.text)

    assert len(caplog.records) > 20
    leaks = [text for text in texts if KEY in text]
    assert not leaks, leaks[:3]
