"""The client against the emulator over real HTTP on 127.0.0.1: one test per row of the error
table of shared/api/face-analyzer-advanced.md, the faults made by the emulator's own fault
injection; the image rules (a 6000x4000 frame mapped back to within 2 px, a 2x2 image
refused before sending)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pytest
from pydantic import SecretStr

from streamwatch.analysis.analyzer import Analyzer, AnalyzerError
from streamwatch.analysis.client import CloudAnalyzer
from streamwatch.analysis.cloud_health import CloudState
from streamwatch.analysis.emulator import EmulatorStats, serve_emulator
from streamwatch.analysis.faults import Faults
from streamwatch.analysis.geometric import GeometricAnalyzer, draw_mark
from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.local.detector import MAX_WIDTH_PX
from streamwatch.analysis.model import Box, Face, FaceAnalysis
from streamwatch.config.model import AnalyzerSettings

API_KEY = "sk-contract-test-1234"
GUARD_S = 30.0  # a failure guard only


class FakeClock:
    """Monotonic seconds that move only when told: the breaker's and the pause's time."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@dataclass
class Rig:
    client: CloudAnalyzer
    emulator: EmulatorStats
    clock: FakeClock

    async def analyze(self, image: np.ndarray) -> FaceAnalysis:
        return await asyncio.wait_for(self.client.analyze(image), GUARD_S)

    async def fails(self, image: np.ndarray) -> AnalyzerError:
        with pytest.raises(AnalyzerError) as caught:
            await self.analyze(image)
        return caught.value


def settings(url: str, **overrides: Any) -> AnalyzerSettings:
    values: dict[str, Any] = {
        "kind": "ailab",
        "url": url,
        "api_key": SecretStr(API_KEY),
        "timeout_s": 5.0,
        "retries": 2,
        # Retries keep their shape but not their patience.
        "retry_base_delay_s": 0.001,
        "retry_max_delay_s": 0.004,
    }
    return AnalyzerSettings(**(values | overrides))


@asynccontextmanager
async def rig(
    faults: Faults | None = None,
    *,
    analyzer: Analyzer | None = None,
    emulator_key: str = API_KEY,
    path: str | None = None,
    **overrides: Any,
) -> AsyncIterator[Rig]:
    """The emulator (GeometricAnalyzer unless told) with `faults`, and a client for it."""
    stats = EmulatorStats()
    clock = FakeClock()
    async with (
        analyzer or GeometricAnalyzer() as engine,
        serve_emulator(engine, api_key=emulator_key, faults=faults, stats=stats) as url,
    ):
        if path is not None:
            url = url.rsplit("/", 1)[0] + "/" + path
        async with CloudAnalyzer(settings(url, **overrides), clock=clock) as client:
            yield Rig(client, stats, clock)


def marked_frame(*boxes: Box, height_px: int = 480, width_px: int = 640) -> np.ndarray:
    frame = np.full((height_px, width_px, 3), 120, np.uint8)
    for box in boxes:
        draw_mark(frame, box)
    return frame


FACE = marked_frame(Box(100, 80, 120, 150))
NO_FACE = marked_frame()


def edges(box: Box) -> tuple[float, float, float, float]:
    return (box.left, box.top, box.right, box.bottom)


# --- 200 ----------------------------------------------------------------------------------------


async def test_200_gives_every_field_in_frame_pixels() -> None:
    async with rig() as r:
        analysis = await r.analyze(FACE)

    assert (analysis.analyzer, analysis.face_count) == ("ailab", 1)
    assert analysis.request_id
    face = analysis.faces[0]
    assert face.box_px == Box(100, 80, 120, 150)
    assert len(face.landmarks_px) == 105
    assert face.pupils_px is not None and face.pose is not None
    assert None not in (face.gender, face.age, face.expression, face.beauty, face.hat)
    assert None not in (face.glasses, face.mask, face.qualities.score, face.qualities.pose)
    assert (analysis.landmark_count, analysis.dense_feature_length) == (105, 1024)
    assert r.client.stats.ok == 1
    assert r.client.health.state is CloudState.OK


# --- 400 ----------------------------------------------------------------------------------------


async def test_400_is_a_bad_request_not_retried_and_later_calls_go_on() -> None:
    async with rig(Faults(script=("400",))) as r:
        error = await r.fails(FACE)
        after = await r.analyze(FACE)

    assert (error.reason, error.retryable) == ("bad_request", False)
    assert "ERROR_PARAMETERS" in str(error)
    assert error.request_id
    assert r.emulator.requests == 2  # one for the refused image, one for the next call
    assert after.face_count == 1
    assert r.client.health.state is CloudState.OK


# --- 401 / 403 / 404 ---------------------------------------------------------------------------


async def test_401_a_wrong_key_stops_every_later_call_and_health_fails() -> None:
    async with rig(emulator_key="sk-the-right-one") as r:
        error = await r.fails(FACE)
        refused = await r.fails(FACE)
        r.clock.advance(24 * 3600)  # time does not heal a wrong key
        still_refused = await r.fails(FACE)

    assert (error.reason, error.retryable) == ("auth", False)
    assert "ERROR_USER_NOT_EXISTS" in str(error) and error.request_id
    assert r.emulator.requests == 1  # the later calls never left the client
    for later in (refused, still_refused):
        assert (later.reason, later.retryable) == ("auth", False)
        assert "ERROR_USER_NOT_EXISTS" in str(later)
    health = r.client.health
    assert health.state is CloudState.FAILING
    assert error.request_id in health.detail
    assert r.client.stats.failed["auth"] == 3


async def test_403_a_locked_account_stops_calls_like_401() -> None:
    async with rig(Faults(script=("403",))) as r:
        error = await r.fails(FACE)
        refused = await r.fails(FACE)

    assert (error.reason, refused.reason) == ("auth", "auth")
    assert "ERROR_USER_LOCKED" in str(error)
    assert r.emulator.requests == 1
    assert r.client.health.state is CloudState.FAILING


async def test_404_a_wrong_url_stops_calls_like_401() -> None:
    async with rig(path="face-analyzer-basic") as r:
        error = await r.fails(FACE)
        refused = await r.fails(FACE)

    assert (error.reason, refused.reason) == ("auth", "auth")
    assert "ERROR_AI_NOT_EXISTS" in str(error)
    assert r.emulator.requests == 1
    assert r.client.health.state is CloudState.FAILING


# --- 422 ----------------------------------------------------------------------------------------


async def test_422_no_face_is_an_analysis_with_zero_faces() -> None:
    async with rig() as r:
        analysis = await r.analyze(NO_FACE)

    assert analysis.face_count == 0
    assert analysis.request_id
    assert (analysis.image_width_px, analysis.image_height_px) == (640, 480)
    assert r.emulator.answers["422"] == 1 and r.emulator.requests == 1
    stats = r.client.stats
    assert (stats.no_face, stats.failed_total, stats.retried) == (1, 0, 0)


# --- 429 ----------------------------------------------------------------------------------------


async def test_429_pauses_calls_for_the_long_back_off_then_one_probe_resumes_them() -> None:
    async with rig(Faults(script=("429",)), credits_pause_s=600.0) as r:
        error = await r.fails(FACE)
        r.clock.advance(599)
        paused = await r.fails(FACE)
        paused_health = r.client.health
        r.clock.advance(2)
        resumed = await r.analyze(FACE)

    assert (error.reason, error.retryable) == ("credits", False)
    assert "ERROR_NOT_ENOUGH_CREDITS" in str(error)
    assert paused.reason == "credits" and "paused" in str(paused)
    assert paused_health.state is CloudState.PAUSED
    assert paused_health.retry_in_s == pytest.approx(1.0)
    assert r.emulator.requests == 2  # the 429, then the probe after the pause
    assert resumed.face_count == 1
    assert r.client.health.state is CloudState.OK


async def test_429_again_after_the_pause_pauses_again() -> None:
    async with rig(Faults(script=("429", "429")), credits_pause_s=60.0) as r:
        await r.fails(FACE)
        r.clock.advance(61)
        again = await r.fails(FACE)
        refused = await r.fails(FACE)

    assert again.reason == refused.reason == "credits"
    assert r.emulator.requests == 2
    assert r.client.health.state is CloudState.PAUSED


# --- 5xx / PROCESSING_FAILURE -------------------------------------------------------------------


async def test_5xx_is_retried_with_back_off_and_the_retry_succeeds() -> None:
    async with rig(Faults(script=("500", "503"))) as r:
        analysis = await r.analyze(FACE)

    assert analysis.face_count == 1
    assert r.emulator.requests == 3
    stats = r.client.stats
    assert (stats.ok, stats.attempts, stats.retried, stats.failed_total) == (1, 3, 2, 0)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_that_persists_ends_in_a_retryable_server_error(status: int) -> None:
    async with rig(Faults(error_rates={status: 1.0})) as r:
        error = await r.fails(FACE)

    assert (error.reason, error.retryable) == ("server", True)
    assert f"HTTP {status}" in str(error)
    if status == 500:
        assert "PROCESSING_FAILURE" in str(error) and error.request_id
    assert r.emulator.requests == 3  # the first attempt and two retries
    assert r.client.stats.failed["server"] == 1


# --- timeout ------------------------------------------------------------------------------------


async def test_an_answer_later_than_the_time_out_is_a_timeout_retried_then_reported() -> None:
    async with rig(Faults(latency_s=1.0), timeout_s=0.2) as r:
        error = await r.fails(FACE)

    assert (error.reason, error.retryable) == ("timeout", True)
    assert r.emulator.requests == 3
    latency = r.client.stats.latency
    assert latency.count == 3
    assert latency.quantile_upper_bound_s(1.0) in (0.25, 0.5)  # each gave up at 0.2 s


async def test_a_body_trickled_past_the_time_out_is_a_timeout_too() -> None:
    async with rig(Faults(script=("slow_body",), slow_body_s=1.0), timeout_s=0.3) as r:
        analysis = await r.analyze(FACE)

    assert analysis.face_count == 1  # the retry came in time
    assert r.emulator.answers["slow_body"] == 1
    assert r.client.stats.retried == 1


async def test_a_slow_body_within_the_time_out_is_read_whole() -> None:
    async with rig(Faults(script=("slow_body",), slow_body_s=0.3), timeout_s=5.0) as r:
        analysis = await r.analyze(FACE)

    assert analysis.face_count == 1
    assert (r.emulator.requests, r.client.stats.retried) == (1, 0)


# --- connection reset ---------------------------------------------------------------------------


async def test_a_connection_reset_is_retried() -> None:
    async with rig(Faults(script=("reset",))) as r:
        analysis = await r.analyze(FACE)

    assert analysis.face_count == 1
    assert r.emulator.answers["reset"] == 1
    assert r.client.stats.retried == 1


async def test_connections_reset_every_time_end_in_a_retryable_connection_error() -> None:
    async with rig(Faults(reset_rate=1.0)) as r:
        error = await r.fails(FACE)

    assert (error.reason, error.retryable) == ("connection", True)
    assert r.emulator.requests == 3


# --- malformed JSON -----------------------------------------------------------------------------


async def test_a_body_cut_short_is_retried() -> None:
    async with rig(Faults(script=("malformed",))) as r:
        analysis = await r.analyze(FACE)

    assert analysis.face_count == 1
    assert r.emulator.answers["malformed"] == 1
    assert r.client.stats.retried == 1


async def test_bodies_always_cut_short_end_in_a_retryable_malformed_error() -> None:
    async with rig(Faults(malformed_rate=1.0)) as r:
        error = await r.fails(FACE)

    assert (error.reason, error.retryable) == ("malformed", True)
    assert "not JSON" in str(error)
    assert r.emulator.requests == 3


# --- circuit breaker ----------------------------------------------------------------------------


async def test_repeated_failures_open_the_circuit_then_a_probe_closes_it() -> None:
    faults = Faults(script=("503",) * 4)  # then healthy again
    async with rig(faults, retries=1, breaker_failures=3, breaker_cooldown_s=30.0) as r:
        first = await r.fails(FACE)  # attempts 1 and 2 fail
        second = await r.fails(FACE)  # attempt 3 fails: the circuit opens
        # A snapshot: `r.client.health.state` itself would stay narrowed to DEGRADED for mypy
        # until the end of the test (python/mypy#9005).
        health_when_opened = r.client.health
        assert health_when_opened.state is CloudState.DEGRADED
        refused = await r.fails(FACE)  # no request at all
        requests_while_open = r.emulator.requests
        r.clock.advance(31)
        probe_fails = await r.fails(FACE)  # the probe meets the 4th 503: open again
        refused_again = await r.fails(FACE)
        r.clock.advance(31)
        probe_succeeds = await r.analyze(FACE)
        after = await r.analyze(FACE)

    assert first.reason == second.reason == "server"
    assert (refused.reason, refused.retryable) == ("circuit_open", True)
    assert "HTTP 503" in str(refused)  # says what kept failing
    assert requests_while_open == 3
    assert probe_fails.reason == "server"  # a probe is not retried
    assert refused_again.reason == "circuit_open"
    assert probe_succeeds.face_count == after.face_count == 1
    assert r.emulator.requests == 6
    assert r.client.health.state is CloudState.OK
    assert r.client.stats.failed["circuit_open"] == 2


async def test_only_one_probe_goes_while_half_open() -> None:
    faults = Faults(script=("503",), latency_s=0.3)
    async with rig(faults, retries=0, breaker_failures=1, breaker_cooldown_s=10.0) as r:
        await r.fails(FACE)
        r.clock.advance(11)
        # The emulator makes the probe take a while; the other calls meet it in flight.
        r.emulator.requests = 0
        results = await asyncio.gather(
            *(r.client.analyze(FACE) for _ in range(5)), return_exceptions=True
        )

    answers = [x for x in results if isinstance(x, FaceAnalysis)]
    refusals = [x for x in results if isinstance(x, AnalyzerError)]
    assert len(answers) == 1 and len(refusals) == 4
    assert {x.reason for x in refusals} == {"circuit_open"}
    assert r.emulator.requests == 1


# --- concurrency --------------------------------------------------------------------------------


async def test_no_more_than_max_concurrent_calls_are_in_flight() -> None:
    async with rig(Faults(latency_s=0.15), max_concurrent_calls=2) as r:
        results = await asyncio.gather(*(r.analyze(FACE) for _ in range(6)))

    assert all(result.face_count == 1 for result in results)
    assert r.emulator.max_in_flight == 2
    assert r.client.stats.in_flight == 0


# --- the image rules ----------------------------------------------------------------------------


BIG_MARKS = (Box(1003, 517, 611, 733), Box(3000, 2001, 257, 301), Box(4800, 300, 901, 1099))


async def test_a_6000x4000_frame_is_downscaled_and_everything_maps_back_within_2_px() -> None:
    rng = np.random.default_rng(7)
    frame = np.full((4000, 6000, 3), 110, np.uint8) + rng.integers(0, 25, (4000, 6000, 3), np.uint8)
    for box in BIG_MARKS:
        draw_mark(frame, box)
    # What the emulator's analyzer finds at full size (the emulator itself refuses 6000 px).
    truth = GeometricAnalyzer().analyze_sync(frame)

    async with rig() as r:
        analysis = await r.analyze(frame)

    assert (analysis.image_width_px, analysis.image_height_px) == (6000, 4000)
    assert analysis.face_count == len(BIG_MARKS) == truth.face_count
    for got, expected in zip(analysis.faces, truth.faces, strict=True):
        assert np.allclose(edges(got.box_px), edges(expected.box_px), atol=2.0)
        got_points = [(p.x, p.y) for p in got.landmarks_px]
        expected_points = [(p.x, p.y) for p in expected.landmarks_px]
        assert np.allclose(got_points, expected_points, atol=2.0)
        assert got.pupils_px is not None and expected.pupils_px is not None
        for pupil, expected_pupil in zip(got.pupils_px, expected.pupils_px, strict=True):
            assert abs(pupil.x - expected_pupil.x) <= 2.0
            assert abs(pupil.y - expected_pupil.y) <= 2.0
            assert abs(pupil.radius - expected_pupil.radius) <= 2.0


# The local analyzer (the emulator's default) detects a frame this large at 960 px wide (its
# MAX_WIDTH_PX): one detector pixel is 6000 / 960 = 6.25 frame pixels. Both paths feed it
# nearly the same 960 px picture (one resize, or a resize to 4095 px, JPEG q90 and another
# resize), so its box moves by a small fraction of a detector pixel; the wire's whole-pixel
# boxes add 0.7 px. Half a detector pixel is allowed.
REAL_FACE_TOLERANCE_PX = 0.5 * 6000 / MAX_WIDTH_PX


async def test_a_real_face_in_a_6000x4000_frame_maps_back_to_what_the_detector_finds_at_full_size(
    media_image: Callable[[str], np.ndarray],
) -> None:
    portrait = media_image("images/faces/obama.jpg")
    big = cv2.resize(portrait, None, fx=3.0, fy=3.0, interpolation=cv2.INTER_CUBIC)
    frame = np.full((4000, 6000, 3), 90, np.uint8)
    frame[300 : 300 + big.shape[0], 1500 : 1500 + big.shape[1]] = big

    async with LocalAnalyzer() as local:
        truth = await local.analyze(frame)
        async with rig(analyzer=local) as r:
            analysis = await r.analyze(frame)

    assert analysis.face_count == truth.face_count == 1
    assert np.allclose(
        edges(analysis.faces[0].box_px), edges(truth.faces[0].box_px), atol=REAL_FACE_TOLERANCE_PX
    )


async def test_a_2x2_image_is_refused_before_sending_with_a_clear_error() -> None:
    async with rig() as r:
        error = await r.fails(np.zeros((2, 2, 3), np.uint8))

    assert (error.reason, error.retryable) == ("bad_image", False)
    assert "2x2 px" in str(error) and "more than 32 px" in str(error)
    assert r.emulator.requests == 0
    assert r.client.stats.attempts == 0
    assert r.client.stats.failed["bad_image"] == 1


def test_marked_frames_are_what_the_geometric_analyzer_finds() -> None:
    analysis = GeometricAnalyzer().analyze_sync(FACE)

    (face,) = analysis.faces
    assert np.allclose(edges(face.box_px), edges(Box(100, 80, 120, 150)), atol=1e-6)
    assert isinstance(face, Face) and face.probability == 1.0
