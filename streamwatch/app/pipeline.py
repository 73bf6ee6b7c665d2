"""One camera's path after capture: selection → budget → analysis → tracking → rules → delivery.

Three tasks per camera. Two are fed by the reader's LatestFrame: the analysis loop, which takes
the newest frame whenever it is free (so a slow analysis never builds a backlog), and the live
loop, which hands every frame with the current tracks to the overlay, so the picture stays
fluid while an analysis is in flight. The health loop follows the camera's state and turns it
into camera.offline / camera.online.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass

from streamwatch.analysis.analyzer import Analyzer, AnalyzerError
from streamwatch.budget.limiter import CallBudget
from streamwatch.capture.frame import Frame
from streamwatch.capture.reader import CameraClosed, CameraReader, CameraState
from streamwatch.delivery.dispatcher import Dispatcher
from streamwatch.events.camera import CameraHealthRules
from streamwatch.events.model import Event
from streamwatch.events.rules import EventRules
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.scene import Scene
from streamwatch.selection.selector import FrameSelector, Verdict
from streamwatch.tracking.tracker import Tracker, TrackUpdate

log = logging.getLogger("streamwatch.app")


@dataclass
class PipelineCounters:
    frames_seen: int = 0
    candidates: int = 0
    analyses: int = 0
    analysis_errors: int = 0
    events: int = 0


class CameraPipeline:
    def __init__(
        self,
        *,
        camera: str,
        reader: CameraReader,
        health: CameraHealthRules,
        selector: FrameSelector,
        budget: CallBudget,
        analyzer: Analyzer,
        tracker: Tracker,
        rules: EventRules,
        dispatcher: Dispatcher,
        board: SceneBoard,
        recent_events: int = 5,
    ) -> None:
        self.camera = camera
        self.counters = PipelineCounters()
        assert reader.latest is not None, "the reader must be started (async with)"
        self._reader = reader
        self._latest = reader.latest
        self._health = health
        self._selector = selector
        self._budget = budget
        self._analyzer = analyzer
        self._tracker = tracker
        self._rules = rules
        self._dispatcher = dispatcher
        self._board = board
        self._recent_events: deque[Event] = deque(maxlen=recent_events)
        self._frame_times_s: deque[float] = deque(maxlen=30)
        self._last_analysis_monotonic_s: float | None = None

    async def run(self) -> None:
        """Until the camera closes or the task is cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._analysis_loop(), name=f"analysis {self.camera}")
                group.create_task(self._live_loop(), name=f"live {self.camera}")
                group.create_task(self._health_loop(), name=f"health {self.camera}")
        except* CameraClosed:
            log.info("camera %s: closed", self.camera)

    async def _analysis_loop(self) -> None:
        sequence = -1
        while True:
            frame = await self._latest.next(sequence)
            sequence = frame.sequence
            self.counters.frames_seen += 1
            self._emit(self._tracker.expire(frame.timestamp_s), frame, self._analyzer.name)
            if self._selector.consider(frame).verdict is not Verdict.CANDIDATE:
                continue
            self.counters.candidates += 1
            async with self._budget:
                try:
                    analysis = await self._analyzer.analyze(frame.image)
                except AnalyzerError as error:
                    self.counters.analysis_errors += 1
                    log.warning("camera %s: analysis failed: %s", self.camera, error)
                    continue
            self.counters.analyses += 1
            self._last_analysis_monotonic_s = time.monotonic()
            self._emit(self._tracker.update(analysis, frame.timestamp_s), frame, analysis.analyzer)

    async def _live_loop(self) -> None:
        sequence = -1
        while True:
            frame = await self._latest.next(sequence)
            sequence = frame.sequence
            self._frame_times_s.append(frame.monotonic_s)
            self._board.publish(
                Scene(
                    frame=frame,
                    tracks=self._tracker.active,
                    recent_events=tuple(self._recent_events),
                    fps_in=self._fps(),
                    last_analysis_monotonic_s=self._last_analysis_monotonic_s,
                )
            )

    async def _health_loop(self) -> None:
        stall_timeout_s = self._reader.camera.stall_timeout_s
        version = self._reader.state_version
        while True:
            now_s = time.monotonic()
            stats = self._reader.stats
            if stats.state in (CameraState.FINISHED, CameraState.STOPPED):
                return
            age_s = stats.last_frame_age_s(now_s)
            fresh = age_s is not None and age_s < stall_timeout_s
            streaming = stats.state is CameraState.STREAMING and fresh
            reason = stats.last_error
            if stats.state is CameraState.STREAMING and not fresh:
                # A read blocked past its time-out (a driver that ignores it): report it anyway.
                reason = f"no frame for {age_s:.0f} s" if age_s is not None else "no frame yet"
            self._publish(
                self._health.observe(
                    streaming=streaming,
                    now_s=now_s,
                    now_wall_s=time.time(),
                    state=str(stats.state),
                    reason=reason,
                )
            )
            deadlines = [self._health.next_check_s()]
            if streaming and stats.last_frame_monotonic_s is not None:
                deadlines.append(stats.last_frame_monotonic_s + stall_timeout_s)
            due = [d for d in deadlines if d is not None]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, min(due) - now_s) if due else None):
                    version = await self._reader.state_change(version)

    def _emit(self, update: TrackUpdate, frame: Frame, analyzer: str) -> None:
        self._publish(
            self._rules.apply(update, frame_timestamp_s=frame.timestamp_s, analyzer=analyzer)
        )

    def _publish(self, events: list[Event]) -> None:
        for event in events:
            self.counters.events += 1
            self._recent_events.append(event)
            self._dispatcher.submit(event)
            self._board.publish_event(event)

    def _fps(self) -> float:
        if len(self._frame_times_s) < 2:
            return 0.0
        span_s = self._frame_times_s[-1] - self._frame_times_s[0]
        return (len(self._frame_times_s) - 1) / span_s if span_s > 0 else 0.0
