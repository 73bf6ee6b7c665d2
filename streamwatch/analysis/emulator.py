"""A local stand-in for the Face Analyzer Advanced API, answering with any Analyzer.

It serves the contract of shared/api/face-analyzer-advanced.md closely enough that the cloud
client cannot tell it from the service: same path, multipart field, key header, image rules,
envelope and error codes. It is for development and tests, and for running streamwatch's cloud
path without spending credits. It can also fail on purpose (faults.py): late answers, errors
by status, bodies cut short or trickled slowly, connections reset.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from streamwatch.analysis.analyzer import Analyzer, AnalyzerError
from streamwatch.analysis.contract import API_KEY_HEADER, ENDPOINT_PATH, IMAGE_FIELD
from streamwatch.analysis.envelope import (
    ERROR_AI_NOT_EXISTS,
    ERROR_INVALID_PARAMETER,
    ERROR_NO_FACE_IN_FILE,
    ERROR_PARAMETERS,
    ERROR_USER_NOT_EXISTS,
    MISSING_PARAMETERS,
    PARAMETERS_CANNOT_EMPTY,
    PROCESSING_FAILURE,
    ApiError,
    error_envelope,
    new_ids,
    success_envelope,
)
from streamwatch.analysis.faults import GATEWAY_STATUSES, Fault, FaultInjector, Faults
from streamwatch.analysis.imaging import MAX_IMAGE_BYTES, ImageRuleError, decode_upload
from streamwatch.analysis.wire import to_data

_CHUNK_BYTES = 256 * 1024
# An oversized upload is read to its end so the client gets the 400 rather than a reset
# connection, but not forever.
_MAX_DRAIN_BYTES = 4 * MAX_IMAGE_BYTES
# A slow body comes out in this many pieces, evenly spaced.
_TRICKLE_PIECES = 20

logger = logging.getLogger("streamwatch.analysis.emulator")


class _Refusal(Exception):
    def __init__(self, error: ApiError, message: str | None = None) -> None:
        super().__init__(message or error.message)
        self.error = error
        self.message = message


@dataclass
class EmulatorStats:
    """What an emulator answered, for tests and demos: requests, and answers by kind
    ("200", "422", "401", …, "reset", "malformed", "slow_body")."""

    requests: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0  # requests being handled now
    max_in_flight: int = 0
    arrivals_s: list[float] = field(default_factory=list)  # time.monotonic() of each request

    def busiest(self, period_s: float) -> int:
        """The most requests that arrived within any `period_s` (what a provider's rate
        limit counts)."""
        times = self.arrivals_s
        return max((sum(1 for u in times if t <= u < t + period_s) for t in times), default=0)


def build_emulator(
    analyzer: Analyzer,
    *,
    api_key: str | None,
    faults: Faults | None = None,
    stats: EmulatorStats | None = None,
) -> web.Application:
    """The API as an aiohttp application.

    `api_key=None` accepts any key, but the header must still be there. The analyzer is
    borrowed: the caller keeps it entered (`async with`) while the application serves.
    `faults` are injected into the answers (faults.py); `stats` is filled as requests come.
    """
    endpoint = _Endpoint(analyzer, api_key, FaultInjector(faults or Faults()), stats)
    app = web.Application()
    app.router.add_post(ENDPOINT_PATH, endpoint.handle)
    app.router.add_route("*", "/{tail:.*}", endpoint.not_found)
    return app


@asynccontextmanager
async def serve_emulator(
    analyzer: Analyzer,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    faults: Faults | None = None,
    stats: EmulatorStats | None = None,
) -> AsyncIterator[str]:
    """Serve the emulator; yields the endpoint's URL (with the port bound when `port=0`)."""
    app = build_emulator(analyzer, api_key=api_key, faults=faults, stats=stats)
    # A connection reset on purpose is not worth a traceback in the emulator's log.
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        netloc = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield f"http://{netloc}:{bound_port}{ENDPOINT_PATH}"
    finally:
        await runner.cleanup()


class _Endpoint:
    def __init__(
        self,
        analyzer: Analyzer,
        api_key: str | None,
        injector: FaultInjector,
        stats: EmulatorStats | None,
    ) -> None:
        self._analyzer = analyzer
        self._api_key = api_key
        self._injector = injector
        self._stats = stats or EmulatorStats()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        stats = self._stats
        stats.requests += 1
        stats.arrivals_s.append(time.monotonic())
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            return await self._handle(request)
        finally:
            stats.in_flight -= 1

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        request_id, log_id = new_ids()
        fault = self._injector.next_fault()
        if fault.kind in ("error", "reset"):
            await _drain(request)
            status, text, content_type = _injected_error(fault, request_id, log_id)
        else:
            status, payload = await self._answer(request, request_id, log_id)
            text, content_type = json.dumps(payload), "application/json"
        delay_s = self._injector.delay_s()
        if delay_s:
            await asyncio.sleep(delay_s)
        answer = str(status)
        if fault.kind == "reset":
            answer = "reset"
        elif fault.kind == "malformed":
            # A 200 whose JSON stops half-way, as a proxy that cut the connection leaves it.
            answer, status, text = "malformed", 200, text[: len(text) // 2]
        elif fault.kind == "slow_body":
            answer = "slow_body"
        self._stats.answers[answer] += 1
        if fault.kind != "none":
            logger.debug("emulator: injected %s (request_id %s)", answer, request_id)
        if fault.kind == "reset":
            return _reset(request)
        if fault.kind == "slow_body":
            return await _trickle(
                request, status, text, content_type, self._injector.faults.slow_body_s
            )
        return web.Response(status=status, text=text, content_type=content_type)

    async def _answer(
        self, request: web.Request, request_id: str, log_id: str
    ) -> tuple[int, dict[str, Any]]:
        """The contract's answer to a request: (HTTP status, envelope)."""
        try:
            self._check_key(request.headers.get(API_KEY_HEADER, ""))
            upload = await _read_image_field(request)
            image = await asyncio.to_thread(decode_upload, upload)
            try:
                analysis = await self._analyzer.analyze(image)
            except AnalyzerError as error:
                if error.reason == "bad_image":
                    raise _Refusal(ERROR_INVALID_PARAMETER, str(error)) from None
                logger.exception("emulator: analyzer failed (request_id %s)", request_id)
                raise _Refusal(PROCESSING_FAILURE) from None
        except ImageRuleError as error:
            return _refusal(_Refusal(ERROR_INVALID_PARAMETER, str(error)), request_id, log_id)
        except _Refusal as refusal:
            return _refusal(refusal, request_id, log_id)
        if analysis.face_count == 0:
            return _refusal(_Refusal(ERROR_NO_FACE_IN_FILE), request_id, log_id)
        logger.debug("emulator: %d faces (request_id %s)", analysis.face_count, request_id)
        return 200, success_envelope(to_data(analysis), request_id=request_id, log_id=log_id)

    async def not_found(self, request: web.Request) -> web.Response:
        self._stats.requests += 1
        self._stats.answers["404"] += 1
        request_id, log_id = new_ids()
        status, body = _refusal(_Refusal(ERROR_AI_NOT_EXISTS), request_id, log_id)
        return web.json_response(body, status=status)

    def _check_key(self, key: str) -> None:
        if not key:
            raise _Refusal(ERROR_USER_NOT_EXISTS, f"missing header {API_KEY_HEADER}")
        # Constant-time: the emulator may stand in front of a shared machine.
        if self._api_key is not None and not hmac.compare_digest(
            key.encode(), self._api_key.encode()
        ):
            raise _Refusal(ERROR_USER_NOT_EXISTS)


def _injected_error(fault: Fault, request_id: str, log_id: str) -> tuple[int, str, str]:
    """(status, body, content type) of an injected error; a reset gets a 500 it never sends."""
    if fault.kind == "reset":
        return 500, "", "text/plain"
    error = fault.error
    if error.http_status in GATEWAY_STATUSES:
        title = f"{error.http_status} {error.message}"
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        return error.http_status, page, "text/html"
    body = error_envelope(error, request_id=request_id, log_id=log_id)
    return error.http_status, json.dumps(body), "application/json"


def _reset(request: web.Request) -> web.StreamResponse:
    """Drop the connection with a TCP reset instead of answering."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger on, time-out 0: close() sends RST, not FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    raise asyncio.CancelledError  # nothing is left to answer on


async def _trickle(
    request: web.Request, status: int, text: str, content_type: str, seconds: float
) -> web.StreamResponse:
    """Answer with headers at once and the body a few bytes at a time over `seconds`."""
    body = text.encode()
    response = web.StreamResponse(status=status)
    response.content_type = content_type
    response.content_length = len(body)
    await response.prepare(request)
    pieces = max(1, min(len(body), _TRICKLE_PIECES))
    step = -(-len(body) // pieces)
    try:
        for start in range(0, len(body), step):
            await asyncio.sleep(seconds / pieces)
            await response.write(body[start : start + step])
        await response.write_eof()
    except ConnectionError:
        pass  # the client gave up waiting: that was the point
    return response


async def _drain(request: web.Request) -> None:
    """Read and drop the request body (at most _MAX_DRAIN_BYTES), so the client's upload
    completes before the injected answer, as it would before a real one."""
    size = 0
    while chunk := await request.content.read(_CHUNK_BYTES):
        size += len(chunk)
        if size > _MAX_DRAIN_BYTES:
            break


async def _read_image_field(request: web.Request) -> bytes:
    if not request.content_type.startswith("multipart/"):
        raise _Refusal(ERROR_PARAMETERS, "the body must be multipart/form-data")
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == IMAGE_FIELD:
                return await _read_capped(part)
            await part.release()
    except ValueError as error:  # aiohttp's word for a malformed multipart body
        raise _Refusal(ERROR_PARAMETERS, f"malformed multipart body: {error}") from None
    raise _Refusal(MISSING_PARAMETERS, f"missing field {IMAGE_FIELD!r}")


async def _read_capped(part: BodyPartReader) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(_CHUNK_BYTES):
        size += len(chunk)
        if size > _MAX_DRAIN_BYTES:
            break
        if size <= MAX_IMAGE_BYTES:
            chunks.append(chunk)
    if size == 0:
        raise _Refusal(PARAMETERS_CANNOT_EMPTY, f"field {IMAGE_FIELD!r} is empty")
    if size > MAX_IMAGE_BYTES:
        raise _Refusal(
            ERROR_INVALID_PARAMETER,
            f"image is over {MAX_IMAGE_BYTES} bytes; at most {MAX_IMAGE_BYTES} allowed",
        )
    return b"".join(chunks)


def _refusal(refusal: _Refusal, request_id: str, log_id: str) -> tuple[int, dict[str, Any]]:
    error = refusal.error
    logger.debug("emulator: %s %s (request_id %s)", error.http_status, error.code, request_id)
    body = error_envelope(error, request_id=request_id, log_id=log_id, message=refusal.message)
    return error.http_status, body
