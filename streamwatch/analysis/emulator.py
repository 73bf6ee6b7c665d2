"""A local stand-in for the Face Analyzer Advanced API, answering with any Analyzer.

It serves the contract of shared/api/face-analyzer-advanced.md closely enough that the cloud
client cannot tell it from the service: same path, multipart field, key header, image rules,
envelope and error codes. It is for development and tests, and for running streamwatch's cloud
path without spending credits.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
from streamwatch.analysis.imaging import MAX_IMAGE_BYTES, ImageRuleError, decode_upload
from streamwatch.analysis.wire import to_data

_CHUNK_BYTES = 256 * 1024
# An oversized upload is read to its end so the client gets the 400 rather than a reset
# connection, but not forever.
_MAX_DRAIN_BYTES = 4 * MAX_IMAGE_BYTES

logger = logging.getLogger("streamwatch.analysis.emulator")


class _Refusal(Exception):
    def __init__(self, error: ApiError, message: str | None = None) -> None:
        super().__init__(message or error.message)
        self.error = error
        self.message = message


def build_emulator(analyzer: Analyzer, *, api_key: str | None) -> web.Application:
    """The API as an aiohttp application.

    `api_key=None` accepts any key, but the header must still be there. The analyzer is
    borrowed: the caller keeps it entered (`async with`) while the application serves.
    """
    endpoint = _Endpoint(analyzer, api_key)
    app = web.Application()
    app.router.add_post(ENDPOINT_PATH, endpoint.handle)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


@asynccontextmanager
async def serve_emulator(
    analyzer: Analyzer, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None
) -> AsyncIterator[str]:
    """Serve the emulator; yields the endpoint's URL (with the port bound when `port=0`)."""
    runner = web.AppRunner(build_emulator(analyzer, api_key=api_key))
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
    def __init__(self, analyzer: Analyzer, api_key: str | None) -> None:
        self._analyzer = analyzer
        self._api_key = api_key

    async def handle(self, request: web.Request) -> web.Response:
        request_id, log_id = new_ids()
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
            return _refuse(_Refusal(ERROR_INVALID_PARAMETER, str(error)), request_id, log_id)
        except _Refusal as refusal:
            return _refuse(refusal, request_id, log_id)
        if analysis.face_count == 0:
            return _refuse(_Refusal(ERROR_NO_FACE_IN_FILE), request_id, log_id)
        logger.debug("emulator: %d faces (request_id %s)", analysis.face_count, request_id)
        return web.json_response(
            success_envelope(to_data(analysis), request_id=request_id, log_id=log_id)
        )

    def _check_key(self, key: str) -> None:
        if not key:
            raise _Refusal(ERROR_USER_NOT_EXISTS, f"missing header {API_KEY_HEADER}")
        # Constant-time: the emulator may stand in front of a shared machine.
        if self._api_key is not None and not hmac.compare_digest(
            key.encode(), self._api_key.encode()
        ):
            raise _Refusal(ERROR_USER_NOT_EXISTS)


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


def _refuse(refusal: _Refusal, request_id: str, log_id: str) -> web.Response:
    error = refusal.error
    logger.debug("emulator: %s %s (request_id %s)", error.http_status, error.code, request_id)
    return web.json_response(
        error_envelope(error, request_id=request_id, log_id=log_id, message=refusal.message),
        status=error.http_status,
    )


async def _not_found(request: web.Request) -> web.Response:
    request_id, log_id = new_ids()
    return _refuse(_Refusal(ERROR_AI_NOT_EXISTS), request_id, log_id)
