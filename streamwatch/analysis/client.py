"""CloudAnalyzer: the Face Analyzer Advanced API as an Analyzer.

What each answer means is decided here (see shared/api/face-analyzer-advanced.md, "client
action"): a face-less image is an analysis with no faces, a bad key or no credits stops at once,
provider and transport faults are retried a few times with back-off. Transport lives in
transport.py, the envelope in envelope.py, image rules in imaging.py.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace

import numpy as np

from streamwatch.analysis.analyzer import AnalyzerError
from streamwatch.analysis.contract import API_KEY_HEADER, IMAGE_FIELD
from streamwatch.analysis.envelope import Envelope, EnvelopeFormatError, decode_envelope
from streamwatch.analysis.imaging import EncodedImage, encode_for_api
from streamwatch.analysis.model import FaceAnalysis
from streamwatch.analysis.retry import RetryPolicy
from streamwatch.analysis.transport import HttpReply, HttpTransport, TransportError
from streamwatch.analysis.wire import AnalysisFormatError, parse_data
from streamwatch.config.model import AnalyzerSettings

IMAGE_FILENAME = "frame.jpg"

logger = logging.getLogger("streamwatch.analysis")


class _Transient(Exception):
    """A failure worth another attempt; becomes a retryable AnalyzerError when they run out."""

    def __init__(self, message: str, reason: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.request_id = request_id


class CloudAnalyzer:
    """Analyzer protocol over the cloud API. Use inside `async with`."""

    name = "ailab"

    def __init__(
        self,
        settings: AnalyzerSettings,
        *,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if settings.api_key is None:
            raise ValueError("CloudAnalyzer needs settings.api_key")
        self._settings = settings
        self._retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        self._transport: HttpTransport | None = None

    def __repr__(self) -> str:
        return f"CloudAnalyzer(url={self._settings.url!r})"

    async def __aenter__(self) -> CloudAnalyzer:
        transport = HttpTransport()
        await transport.__aenter__()
        self._transport = transport
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.__aexit__(*exc_info)

    async def analyze(self, image: np.ndarray) -> FaceAnalysis:
        """The faces of a BGR frame, coordinates in that frame's pixels."""
        if self._transport is None:
            raise RuntimeError("CloudAnalyzer used outside `async with`")
        # JPEG encoding of a large frame takes long enough on a small CPU to stall the loop.
        encoded = await asyncio.to_thread(
            encode_for_api, image, jpeg_quality=self._settings.jpeg_quality
        )
        if encoded.downscaled:
            logger.debug(
                "frame %dx%d px downscaled to %dx%d px for the API",
                encoded.frame_width_px,
                encoded.frame_height_px,
                encoded.width_px,
                encoded.height_px,
            )
        retry_index = 0
        while True:
            try:
                return await self._attempt(self._transport, encoded)
            except _Transient as fault:
                if retry_index == self._retry.retries:
                    raise self._give_up(fault) from None
                delay_s = self._retry.delay_s(retry_index, self._rng)
                logger.warning(
                    "face analysis failed (%s: %s, request_id %s); retry %d of %d in %.2f s",
                    fault.reason,
                    fault.message,
                    fault.request_id,
                    retry_index + 1,
                    self._retry.retries,
                    delay_s,
                )
                await asyncio.sleep(delay_s)
                retry_index += 1

    def _give_up(self, fault: _Transient) -> AnalyzerError:
        logger.error(
            "face analysis failed after %d attempts (%s: %s, request_id %s)",
            self._retry.attempts,
            fault.reason,
            fault.message,
            fault.request_id,
        )
        return AnalyzerError(
            f"{fault.message} (after {self._retry.attempts} attempts)",
            reason=fault.reason,
            retryable=True,
            request_id=fault.request_id,
        )

    async def _attempt(self, transport: HttpTransport, encoded: EncodedImage) -> FaceAnalysis:
        secret = self._settings.api_key
        assert secret is not None  # checked in __init__
        try:
            reply = await transport.post_file(
                self._settings.url,
                field=IMAGE_FIELD,
                filename=IMAGE_FILENAME,
                content_type="image/jpeg",
                content=encoded.jpeg,
                headers={API_KEY_HEADER: secret.get_secret_value()},
                timeout_s=self._settings.timeout_s,
            )
        except TransportError as error:
            raise _Transient(str(error), error.reason) from None
        return _interpret(reply, encoded, analyzer=self.name)


def _interpret(reply: HttpReply, encoded: EncodedImage, *, analyzer: str) -> FaceAnalysis:
    """The analysis a reply carries, or the AnalyzerError / _Transient it amounts to."""
    try:
        envelope: Envelope | None = decode_envelope(reply.body)
    except EnvelopeFormatError as error:
        if reply.status == 200:
            raise _Transient(f"HTTP 200 with a malformed body: {error}", "malformed") from None
        envelope = None  # a proxy's HTML error page, say: the status alone decides
    request_id = envelope.request_id if envelope else None
    # Errors carry the HTTP status in error_code; a 200 with a non-zero one is treated alike.
    status = reply.status
    if status == 200 and envelope is not None and envelope.error_code != 0:
        status = envelope.error_code
    what = _describe(reply.status, envelope)

    if status == 200:
        assert envelope is not None
        if envelope.data is None:
            raise _Transient(f"{what}: success without data", "malformed", request_id)
        try:
            analysis = parse_data(
                envelope.data,
                image_width_px=encoded.width_px,
                image_height_px=encoded.height_px,
                analyzer=analyzer,
                request_id=request_id,
            )
        except AnalysisFormatError as error:
            # The call was billed and the same image would get the same answer: no retry.
            _log_failure(what, request_id)
            raise AnalyzerError(
                str(error), reason="malformed", retryable=False, request_id=request_id
            ) from None
        logger.debug("analysed: %d faces (request_id %s)", analysis.face_count, request_id)
        return _to_frame_pixels(analysis, encoded)
    if status == 422:
        logger.debug("analysed: no face (request_id %s)", request_id)
        return FaceAnalysis(
            faces=(),
            image_width_px=encoded.frame_width_px,
            image_height_px=encoded.frame_height_px,
            analyzer=analyzer,
            request_id=request_id,
        )
    if status >= 500:
        raise _Transient(what, "server", request_id)
    _log_failure(what, request_id)
    if status in (401, 403, 404):
        raise AnalyzerError(
            f"{what}: check the API key and URL",
            reason="auth",
            retryable=False,
            request_id=request_id,
        )
    if status == 429:
        raise AnalyzerError(
            f"{what}: out of credits", reason="credits", retryable=False, request_id=request_id
        )
    raise AnalyzerError(what, reason="bad_request", retryable=False, request_id=request_id)


def _to_frame_pixels(analysis: FaceAnalysis, encoded: EncodedImage) -> FaceAnalysis:
    if not encoded.downscaled:
        return analysis
    scaled = analysis.scaled(1 / encoded.scale)
    # Rounding in the resize makes the scaled size off by a pixel; the frame's is the truth.
    return replace(
        scaled, image_width_px=encoded.frame_width_px, image_height_px=encoded.frame_height_px
    )


def _describe(status: int, envelope: Envelope | None) -> str:
    if envelope is None:
        return f"HTTP {status}"
    parts = [f"HTTP {status}"]
    if envelope.code:
        parts.append(envelope.code)
    if envelope.message:
        parts.append(repr(envelope.message))
    return " ".join(parts)


def _log_failure(what: str, request_id: str | None) -> None:
    logger.error("face analysis failed: %s (request_id %s)", what, request_id)
