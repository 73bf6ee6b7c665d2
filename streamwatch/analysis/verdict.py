"""What a reply of the Face Analyzer API means: an analysis, a typed error, or a retry.

The contract's "client action" column (shared/api/face-analyzer-advanced.md) as code: a
face-less image is an analysis with no faces, a bad key or no credits is an AnalyzerError that
stops calls, provider and transport faults are `Transient` (worth another attempt).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from streamwatch.analysis.analyzer import AnalyzerError
from streamwatch.analysis.envelope import Envelope, EnvelopeFormatError, decode_envelope
from streamwatch.analysis.imaging import EncodedImage
from streamwatch.analysis.model import FaceAnalysis
from streamwatch.analysis.transport import HttpReply
from streamwatch.analysis.wire import AnalysisFormatError, parse_data

logger = logging.getLogger("streamwatch.analysis")

# Reasons of an answer that stops (auth) or pauses (credits) all later calls.
STOPPING_REASON = "auth"
PAUSING_REASON = "credits"


class Transient(Exception):
    """A failure worth another attempt; becomes a retryable AnalyzerError when they run out."""

    def __init__(self, message: str, reason: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.request_id = request_id

    def summary(self) -> str:
        return f"{self.reason}: {self.message}, request_id {self.request_id or '-'}"


def interpret_reply(
    reply: HttpReply,
    encoded: EncodedImage,
    *,
    analyzer: str,
    call: int = 0,
    secret: str | None = None,
) -> FaceAnalysis:
    """The analysis a reply carries, or the AnalyzerError / Transient it amounts to.

    Total over every status and body: nothing else is ever raised. Text taken from the reply
    (codes, messages, request_id) has `secret` blotted out: a proxy or a service that echoes
    the request's headers back must not put the key into our logs and errors.
    """
    try:
        envelope: Envelope | None = decode_envelope(reply.body)
        if envelope is not None and secret:
            envelope = _scrubbed(envelope, secret)
    except EnvelopeFormatError as error:
        if 200 <= reply.status < 300:
            detail = _scrub(str(error), secret)
            raise Transient(
                f"HTTP {reply.status} with a malformed body: {detail}", "malformed"
            ) from None
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
            raise Transient(f"{what}: success without data", "malformed", request_id)
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
            _log_failure(call, what, request_id)
            raise AnalyzerError(
                _scrub(str(error), secret),
                reason="malformed",
                retryable=False,
                request_id=request_id,
            ) from None
        logger.debug(
            "call %d: %d face(s)", call, analysis.face_count, extra={"request_id": request_id}
        )
        return _to_frame_pixels(analysis, encoded)
    if status == 422:
        logger.debug("call %d: no face", call, extra={"request_id": request_id})
        return FaceAnalysis(
            faces=(),
            image_width_px=encoded.frame_width_px,
            image_height_px=encoded.frame_height_px,
            analyzer=analyzer,
            request_id=request_id,
        )
    if status >= 500:
        raise Transient(what, "server", request_id)
    if status in (401, 403, 404):
        raise AnalyzerError(
            f"{what}: check the API key and URL",
            reason=STOPPING_REASON,
            retryable=False,
            request_id=request_id,
        )
    if status == 429:
        raise AnalyzerError(
            f"{what}: out of credits",
            reason=PAUSING_REASON,
            retryable=False,
            request_id=request_id,
        )
    _log_failure(call, what, request_id)
    raise AnalyzerError(
        f"{what}: not retried", reason="bad_request", retryable=False, request_id=request_id
    )


REDACTED = "[redacted]"


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, REDACTED) if secret else text


def _scrubbed(envelope: Envelope, secret: str) -> Envelope:
    def clean(text: str | None) -> str | None:
        return None if text is None else _scrub(text, secret)

    return replace(
        envelope,
        request_id=clean(envelope.request_id),
        log_id=clean(envelope.log_id),
        code=clean(envelope.code),
        message=_scrub(envelope.message, secret),
    )


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
        parts.append(repr(envelope.message[:200]))
    return " ".join(parts)


def _log_failure(call: int, what: str, request_id: str | None) -> None:
    logger.error("call %d: face analysis failed: %s", call, what, extra={"request_id": request_id})
