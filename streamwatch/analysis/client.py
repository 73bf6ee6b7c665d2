"""CloudAnalyzer: the Face Analyzer Advanced API as an Analyzer.

What one reply means is read in verdict.py; what it does to the calls after it is decided here
(shared/api/face-analyzer-advanced.md, "client action"):

| answer | this call | the calls after it |
|---|---|---|
| 200 | its faces, in frame pixels | |
| 422 no face | zero faces | |
| 400, other 4xx | "bad_request", not retried | |
| 401 / 403 / 404 | "auth" | refused ("auth") until restart; health failing |
| 429 no credits | "credits" | refused ("credits") for credits_pause_s, then one probe |
| 5xx, time-out, reset, bad JSON | retried with back-off | |
| breaker_failures of those in a row | | refused ("circuit_open") for breaker_cooldown_s |

At most max_concurrent_calls requests are in flight; more wait for a slot. Every log line
about a call names it ("call 17") and, once the service has answered, carries its request_id
as the record's `request_id` field. The API key is only ever in the request header: not in a
log line, an exception, `repr` or a stats label. Transport lives in transport.py, the
envelope in envelope.py, image rules in imaging.py, the breaker in breaker.py, the client's
health values in cloud_health.py, the counters in stats.py.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Callable

import numpy as np

from streamwatch.analysis.analyzer import AnalyzerError, RequestPermit
from streamwatch.analysis.breaker import CircuitBreaker, CircuitState
from streamwatch.analysis.cloud_health import CloudHealth, CloudState
from streamwatch.analysis.contract import API_KEY_HEADER, IMAGE_FIELD
from streamwatch.analysis.imaging import EncodedImage, check_frame, encode_for_api
from streamwatch.analysis.model import FaceAnalysis
from streamwatch.analysis.retry import RetryPolicy
from streamwatch.analysis.stats import CallStats, StatsRecorder
from streamwatch.analysis.transport import HttpTransport, TransportError
from streamwatch.analysis.verdict import (
    PAUSING_REASON,
    STOPPING_REASON,
    Transient,
    interpret_reply,
)
from streamwatch.config.model import AnalyzerSettings

IMAGE_FILENAME = "frame.jpg"

logger = logging.getLogger("streamwatch.analysis")


class _Refused(Exception):
    """No request may be sent now (calls stopped, paused, or the circuit open)."""

    def __init__(self, error: AnalyzerError) -> None:
        super().__init__(str(error))
        self.error = error


class CloudAnalyzer:
    """Analyzer protocol over the cloud API. Use inside `async with`.

    `retry` overrides the settings' retry knobs; `rng` draws the back-off jitter; `clock`
    (monotonic seconds) times the breaker's cool-down and the credits pause.
    """

    name = "ailab"

    def __init__(
        self,
        settings: AnalyzerSettings,
        *,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if settings.api_key is None:
            raise ValueError("CloudAnalyzer needs settings.api_key")
        self._settings = settings
        self._retry = retry or RetryPolicy.from_settings(settings)
        self._rng = rng or random.Random()
        self._clock = clock
        self._transport: HttpTransport | None = None
        self._slots = asyncio.Semaphore(settings.max_concurrent_calls)
        self._breaker = CircuitBreaker(
            failure_threshold=settings.breaker_failures,
            cooldown_s=settings.breaker_cooldown_s,
            clock=clock,
        )
        self._stats = StatsRecorder()
        self._call_ids = itertools.count(1)
        self._stopped: str | None = None  # why calls stopped (auth), None while calling
        self._paused_until_s: float | None = None  # out of credits until then
        self._pause_detail = ""
        self._credits_probe = False
        self._last_fault = ""

    def __repr__(self) -> str:
        return f"CloudAnalyzer(url={self._settings.url!r})"

    async def __aenter__(self) -> CloudAnalyzer:
        transport = HttpTransport(max_connections=self._settings.max_concurrent_calls)
        await transport.__aenter__()
        self._transport = transport
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.__aexit__(*exc_info)

    # --- state for health and metrics ----------------------------------------------------------

    @property
    def stats(self) -> CallStats:
        return self._stats.snapshot()

    @property
    def health(self) -> CloudHealth:
        breaker = self._breaker
        common = {
            "circuit": breaker.state,
            "consecutive_failures": breaker.consecutive_failures,
        }
        if self._stopped is not None:
            return CloudHealth(CloudState.FAILING, self._stopped, **common)  # type: ignore[arg-type]
        if self._paused_until_s is not None:
            return CloudHealth(
                CloudState.PAUSED,
                self._pause_detail,
                retry_in_s=max(0.0, self._paused_until_s - self._clock()),
                **common,  # type: ignore[arg-type]
            )
        if breaker.state is not CircuitState.CLOSED:
            return CloudHealth(
                CloudState.DEGRADED,
                f"circuit open after failed attempts in a row; last: {self._last_fault}",
                retry_in_s=breaker.retry_in_s(),
                **common,  # type: ignore[arg-type]
            )
        return CloudHealth(CloudState.OK, "calling the API", **common)  # type: ignore[arg-type]

    # --- a call ----------------------------------------------------------------------------

    async def analyze(
        self, image: np.ndarray, *, permit: RequestPermit | None = None
    ) -> FaceAnalysis:
        """The faces of a BGR frame, coordinates in that frame's pixels.

        `permit` (the call budget's) is asked before each request that is sent, retries
        included; a call refused before sending anything never asks it. What it raises when
        no request may go (the daily budget spent, the frame too old) ends the call.
        """
        if self._transport is None:
            raise RuntimeError("CloudAnalyzer used outside `async with`")
        call = next(self._call_ids)
        try:
            analysis = await self._call(call, self._transport, image, permit)
        except AnalyzerError as error:
            self._stats.fail(error.reason)
            raise
        if analysis.face_count:
            self._stats.ok += 1
        else:
            self._stats.no_face += 1
        return analysis

    async def _call(
        self,
        call: int,
        transport: HttpTransport,
        image: np.ndarray,
        permit: RequestPermit | None,
    ) -> FaceAnalysis:
        # A frame no encoding makes acceptable is the caller's problem, whatever the API's
        # state; otherwise refuse before spending CPU on the JPEG when no request could go.
        check_frame(image)
        refusal = self._refusal()
        if refusal is not None:
            logger.debug("call %d: refused: %s", call, refusal)
            raise refusal
        # JPEG encoding of a large frame takes long enough on a small CPU to stall the loop.
        encoded = await asyncio.to_thread(
            encode_for_api, image, jpeg_quality=self._settings.jpeg_quality
        )
        if encoded.downscaled:
            logger.debug(
                "call %d: frame %dx%d px downscaled to %dx%d px for the API",
                call,
                encoded.frame_width_px,
                encoded.frame_height_px,
                encoded.width_px,
                encoded.height_px,
            )
        retry_index = 0
        last_fault: Transient | None = None
        while True:
            try:
                async with self._slots:
                    return await self._admitted_attempt(
                        call, transport, encoded, retry_index, permit
                    )
            except _Refused as refused:
                if last_fault is None:
                    raise refused.error from None
                # A retry the state no longer allows: the call fails for its own last fault.
                raise self._give_up(call, last_fault, retry_index, refused.error) from None
            except Transient as fault:
                last_fault = fault
                if retry_index == self._retry.retries:
                    raise self._give_up(call, fault, retry_index + 1) from None
                delay_s = self._retry.delay_s(retry_index, self._rng)
                logger.warning(
                    "call %d: attempt %d of %d failed (%s: %s); retrying in %.2f s",
                    call,
                    retry_index + 1,
                    self._retry.attempts,
                    fault.reason,
                    fault.message,
                    delay_s,
                    extra={"request_id": fault.request_id},
                )
                await asyncio.sleep(delay_s)
                retry_index += 1

    async def _admitted_attempt(
        self,
        call: int,
        transport: HttpTransport,
        encoded: EncodedImage,
        retry_index: int,
        permit: RequestPermit | None,
    ) -> FaceAnalysis:
        """One HTTP request, if the client's state and the budget allow it now; its verdict
        updates that state. Raises _Refused, an AnalyzerError, Transient, or what the permit
        raises."""
        refusal = self._refusal()
        if refusal is None and not self._breaker.acquire():
            refusal = self._circuit_refusal()
        if refusal is not None:
            logger.debug("call %d: refused: %s", call, refusal)
            raise _Refused(refusal)
        credits_probe = self._paused_until_s is not None
        self._credits_probe = credits_probe
        stats = self._stats
        started_s: float | None = None
        settled = False
        try:
            if permit is not None:
                await permit.attempt()
            stats.attempts += 1
            if retry_index:
                stats.retried += 1
            stats.in_flight += 1
            started_s = time.perf_counter()
            analysis = await self._attempt(call, transport, encoded)
            settled = True
            self._settle_answered(call, analysis.request_id, resumed=credits_probe)
            return analysis
        except Transient as fault:
            settled = True
            self._last_fault = fault.summary()
            self._settle_failed()
            raise
        except AnalyzerError as error:
            settled = True
            self._settle_error(call, error)
            raise
        finally:
            if started_s is not None:
                stats.in_flight -= 1
                stats.observe_latency(time.perf_counter() - started_s)
            if credits_probe:
                self._credits_probe = False
            if not settled:  # cancelled: no verdict, the probe slot is free again
                self._breaker.abandon()

    def _settle_answered(self, call: int, request_id: str | None, *, resumed: bool) -> None:
        if self._breaker.state is not CircuitState.CLOSED:
            logger.info(
                "call %d: the API answers again; circuit closed",
                call,
                extra={"request_id": request_id},
            )
        self._breaker.success()
        if resumed or self._paused_until_s is not None:
            logger.info(
                "call %d: credits available again; calls resume",
                call,
                extra={"request_id": request_id},
            )
            self._paused_until_s = None

    def _settle_failed(self) -> None:
        opened_before = self._breaker.times_opened
        self._breaker.failure()
        if self._breaker.times_opened > opened_before:
            logger.error(
                "face analysis API: %d failed attempts in a row (last: %s); circuit open, calls "
                "refused for %g s",
                self._breaker.consecutive_failures,
                self._last_fault,
                self._settings.breaker_cooldown_s,
            )

    def _settle_error(self, call: int, error: AnalyzerError) -> None:
        if error.reason == "malformed":
            # The service answered 200 with nonsense: as bad as no answer for the breaker.
            self._last_fault = f"malformed: {error}"
            self._settle_failed()
            return
        self._breaker.success()  # the service answered as the contract says
        if error.reason == STOPPING_REASON and self._stopped is None:
            self._stopped = str(error)
            logger.error(
                "call %d: %s; calls to the face analysis API stopped until restart",
                call,
                error,
                extra={"request_id": error.request_id},
            )
        elif error.reason == PAUSING_REASON:
            self._paused_until_s = self._clock() + self._settings.credits_pause_s
            self._pause_detail = str(error)
            logger.error(
                "call %d: %s; calls paused for %g s",
                call,
                error,
                self._settings.credits_pause_s,
                extra={"request_id": error.request_id},
            )

    def _refusal(self) -> AnalyzerError | None:
        """Why no request may be sent now, or None. Changes nothing (see _admitted_attempt)."""
        if self._stopped is not None:
            return AnalyzerError(
                f"calls stopped after: {self._stopped}", reason=STOPPING_REASON, retryable=False
            )
        if self._paused_until_s is not None:
            remaining_s = self._paused_until_s - self._clock()
            if remaining_s > 0 or self._credits_probe:
                return AnalyzerError(
                    f"calls paused for another {max(0.0, remaining_s):.0f} s after: "
                    f"{self._pause_detail}",
                    reason=PAUSING_REASON,
                    retryable=False,
                )
        if not self._breaker.allows():
            return self._circuit_refusal()
        return None

    def _circuit_refusal(self) -> AnalyzerError:
        return AnalyzerError(
            f"circuit open after {self._breaker.consecutive_failures} failed attempts in a row "
            f"(last: {self._last_fault}); next try in {self._breaker.retry_in_s():.1f} s",
            reason="circuit_open",
            retryable=True,
        )

    def _give_up(
        self, call: int, fault: Transient, attempts: int, refusal: AnalyzerError | None = None
    ) -> AnalyzerError:
        why = f"; no more attempts: {refusal}" if refusal is not None else ""
        logger.error(
            "call %d: failed after %d attempt(s) (%s: %s)%s",
            call,
            attempts,
            fault.reason,
            fault.message,
            why,
            extra={"request_id": fault.request_id},
        )
        return AnalyzerError(
            f"{fault.message} (after {attempts} attempt(s){why})",
            reason=fault.reason,
            retryable=True,
            request_id=fault.request_id,
        )

    async def _attempt(
        self, call: int, transport: HttpTransport, encoded: EncodedImage
    ) -> FaceAnalysis:
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
            raise Transient(str(error), error.reason) from None
        return interpret_reply(
            reply, encoded, analyzer=self.name, call=call, secret=secret.get_secret_value()
        )
