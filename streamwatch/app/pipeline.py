"""One camera's path after capture: gates → call policy → budget → analysis → tracks → events.

Four tasks per camera:
- the gate loop takes the newest frame whenever it is free: motion gate, then (at most
  `detect_fps` times a second, `still_detect_fps` while the faces in view are at rest:
  selection/pace.py) the local face detector — on the whole frame now and then, between
  only where something moved and around the tracked faces: selection/region.py — whose
  faces move the tracks; the call
  policy picks the frames worth a call and leaves the newest one in a one-slot hand-over;
  how long a frame took from capture until the gates were done with it (its wait for the
  loop included) goes into `gate_latency`;
- the call loop takes that candidate, asks the analysis route for an answer (the cloud under
  the budget, never past the frame's `max_age_s`, or the device when the cloud cannot:
  analysis/fallback.py) and attaches it to the tracks of that frame's time (a new face that
  is someone answered for a moment ago is described by that answer instead: recall.py),
  with an appearance signature for each track due one (its first, or its face changed:
  tracking/signature_schedule.py);
- the live loop hands every frame with the current tracks to the overlay;
- the health loop (camera_watch.py) turns the camera's health into camera.offline /
  camera.online; a camera its reader gave up is announced at once, and ended.

Every time-based rule runs on the frames' monotonic times and on `clock`: the machine's, or
the media time of a recording replayed faster than real time (streamwatch.clock); the frames'
wall-clock times only go into event payloads. Events leave through the camera's outlet
(outlet.py): face crops encoded in a thread, an alarm's pictures kept before it goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import numpy as np

from streamwatch.analysis.analyzer import AnalyzerError
from streamwatch.analysis.fallback import AnalysisRoute, FallbackReason
from streamwatch.analysis.model import Box, FaceAnalysis, Mask
from streamwatch.budget.limiter import BudgetDenied
from streamwatch.capture.frame import Frame
from streamwatch.capture.latest import CameraClosed
from streamwatch.capture.reader import CameraReader
from streamwatch.clock import SYSTEM_CLOCK, Clock
from streamwatch.config.model import SelectionSettings, TrackingSettings
from streamwatch.delivery.dispatcher import Dispatcher
from streamwatch.events.analysis import AnalysisStateRules
from streamwatch.events.camera import CameraHealthRules
from streamwatch.events.rules import EventRules
from streamwatch.histogram import STAGE_BUCKETS_S, HistogramRecorder
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.scene import Scene
from streamwatch.selection.motion import MotionGate
from streamwatch.selection.pace import DetectionPace
from streamwatch.selection.policy import (
    CallPolicy,
    CallReason,
    Candidate,
    GatedFace,
    call_priority,
)
from streamwatch.selection.region import DetectionRegion
from streamwatch.selection.sharpness import SharpnessHistory, face_sharpness
from streamwatch.tracking.signature_schedule import SignatureSchedule
from streamwatch.tracking.track import FrameTime
from streamwatch.tracking.tracker import Tracker, TrackUpdate

from .camera_watch import watch_health
from .handover import CandidateSlot
from .outlet import EventOutlet, Evidence
from .recall import AnswerRecall, SignatureOf
from .reports import GateDecision, GateReport, PipelineCounters
from .signing import Signer, counted

log = logging.getLogger("streamwatch.app")

# The face gate: the faces of an image, looking only in a region of it (None: everywhere).
FaceDetector = Callable[[np.ndarray, Box | None], Awaitable[FaceAnalysis]]


class CameraPipeline:
    def __init__(
        self,
        *,
        camera: str,
        reader: CameraReader,
        health: CameraHealthRules,
        selection: SelectionSettings,
        detect: FaceDetector,
        signature_of: SignatureOf | None = None,
        signature_schedule: SignatureSchedule | None = None,
        route: AnalysisRoute,
        tracker: Tracker,
        rules: EventRules,
        dispatcher: Dispatcher,
        board: SceneBoard,
        recent_events: int = 5,
        clock: Clock = SYSTEM_CLOCK,
        evidence: Evidence | None = None,
    ) -> None:
        """`evidence`: keeps the pictures of alarms (the history), None: not kept."""
        assert reader.latest is not None, "the reader must be started (async with)"
        self.camera = camera
        self.counters = PipelineCounters()
        self.gate_latency = HistogramRecorder(STAGE_BUCKETS_S)
        # Told of every frame's gate decision and of every call and its answer (benchmarks,
        # the replay report). They must return at once.
        self.gate_observers: list[Callable[[GateReport], None]] = []
        self.call_observers: list[Callable[[Candidate, FaceAnalysis], None]] = []
        self._reader = reader
        self._latest = reader.latest
        self._health = health
        self._selection = selection
        self._motion = MotionGate(selection)
        self._region = DetectionRegion(
            full_frame_every_s=selection.full_frame_detect_s, margin_px=selection.min_face_px
        )
        self._sharpness = SharpnessHistory()
        self._policy = CallPolicy(selection)
        self._pace = DetectionPace(selection)
        self._detect = detect
        self._clock = clock
        self._pending = CandidateSlot(clock)
        self._no_call_in_flight = asyncio.Event()
        self._no_call_in_flight.set()
        self._finishing = False
        self._next_detection_s = 0.0
        self._previous_changed = 1.0
        self._route = route
        self._analysis_rules = AnalysisStateRules(
            node=rules.node, camera=camera, analyzer=route.name, initial=route.state
        )
        self._tracker = tracker
        self._rules = rules
        self._board = board
        self._outlet = EventOutlet(
            rules=reader.camera.rules,
            dispatcher=dispatcher,
            board=board,
            counters=self.counters,
            recent_events=recent_events,
            evidence=evidence,
        )
        # Capture time of the newest frame the gate loop has dealt with (for the overlay).
        self._dealt_up_to_monotonic_s = clock.monotonic_s()
        signature = None if signature_of is None else counted(signature_of, self.counters)
        self._recall = (
            AnswerRecall(
                rules=rules,
                tracker=tracker,
                signature_of=signature,
                max_age_s=selection.reuse_answer_s,
            )
            if signature is not None and selection.reuse_answer_s > 0
            else None
        )
        self._signer = (
            None
            if signature is None
            else Signer(
                signature,
                signature_schedule or SignatureSchedule(TrackingSettings().signature_refresh_s),
                kept=None if self._recall is None else self._recall.signature,
            )
        )

    async def run(self) -> None:
        """Until the camera closes or the task is cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._gate_loop(), name=f"gate {self.camera}")
                group.create_task(self._call_loop(), name=f"calls {self.camera}")
                group.create_task(self._live_loop(), name=f"live {self.camera}")
                health = watch_health(
                    self._reader, self._health, self._latest, self._clock, self._outlet.publish
                )
                group.create_task(health, name=f"health {self.camera}")
        except* CameraClosed:
            log.info("camera %s: closed", self.camera, extra={"camera": self.camera})

    async def _gate_loop(self) -> None:
        sequence = -1
        while True:
            frame = await self._latest.next(sequence)
            sequence = frame.sequence
            self.counters.frames_seen += 1
            report = await self._gate(frame)
            self.gate_latency.observe(self._clock.monotonic_s() - frame.monotonic_s)
            self._dealt_up_to_monotonic_s = frame.monotonic_s
            for observer in self.gate_observers:
                observer(report)

    async def _gate(self, frame: Frame) -> GateReport:
        """Motion gate, face gate, call policy for one frame."""
        counters = self.counters
        at = _frame_time(frame)
        await self._emit(self._tracker.expire(at.monotonic_s), at)
        motion = self._motion.measure(frame.image)
        changed = motion.share
        self._region.moved(motion.box_px)
        quiet_before = self._previous_changed < self._selection.cut_changed / 3
        self._previous_changed = changed
        if changed >= self._selection.cut_changed and quiet_before and self._tracker.active:
            await self._emit(self._tracker.end_all(), at)
        if changed < self._selection.motion_min_changed and not self._tracker.active:
            counters.dropped_motion += 1
            return GateReport(frame, GateDecision.STILL, changed)
        if frame.monotonic_s < self._next_detection_s:
            counters.dropped_rate += 1
            return GateReport(frame, GateDecision.RATE, changed)
        height_px, width_px = frame.image.shape[:2]
        tracked = [track.face.box_px for track in self._tracker.active]
        region = self._region.next_look(frame.monotonic_s, width_px, height_px, tracked)
        detections = await self._detect(frame.image, region)
        counters.region_detections += region is not None
        update = self._tracker.observe(detections.faces, at)
        boxes = {track_id: face.box_px for track_id, face in update.detections.items()}
        self._pace.observe(boxes, at_rest=self._policy.at_rest(boxes))
        self._next_detection_s = frame.monotonic_s + self._pace.interval_s()
        await self._emit(update, at)
        if not detections.faces:
            counters.dropped_no_face += 1
            return GateReport(frame, GateDecision.NO_FACE, changed)
        gated = []
        for track_id, detection in update.detections.items():
            sharpness = face_sharpness(frame.image, detection.box_px)
            relative = self._sharpness.relative(sharpness)
            gated.append(GatedFace(track_id, detection, sharpness, relative))
        self._policy.observe(frame, gated)
        await self._second_answers(gated, frame)
        fit = [face for face in gated if self._policy.eligible(face)]
        # Consulted on unfit frames too: a face that shrank below min_face_px is still due
        # its first call, on an earlier fit frame of it.
        candidate = self._policy.consider(frame, gated)
        if not fit and candidate is None:
            counters.dropped_unfit += 1
            return GateReport(frame, GateDecision.UNFIT, changed, tuple(gated))
        called = [face for face in fit if candidate and face.track_id in candidate.track_ids]
        counters.calls_saved += len(fit) - len(called)
        if candidate is None:
            return GateReport(frame, GateDecision.SAVED, changed, tuple(gated))
        if candidate.reason is CallReason.NEW and self._recall is not None:
            recalled = await self._recall.recall(candidate)
            if recalled is not None:
                counters.answers_reused += 1
                self._policy.sent(candidate)
                await self._answered(candidate, recalled.analysis, answer_age_s=recalled.age_s)
                return GateReport(frame, GateDecision.REMEMBERED, changed, tuple(gated), candidate)
        counters.candidates += 1
        if (replaced := self._pending.offer(candidate)) is not None:
            self._policy.dropped(replaced)
        return GateReport(frame, GateDecision.CANDIDATE, changed, tuple(gated), candidate)

    async def _second_answers(self, gated: list[GatedFace], frame: Frame) -> None:
        """A face whose answer did not settle its state alone, and whose gate reading has
        held the same state since: the rules take the reading as the answer's second opinion
        (EventRules.second), and no call goes to confirm it."""
        at = _frame_time(frame)
        for face in gated:
            mask = self._policy.seconded(face.track_id)
            track = self._tracker.track(face.track_id)
            if mask is None or track is None:
                continue
            events = self._rules.second(track, mask, at)
            settled = self._rules.settled(face.track_id)
            self._policy.decided(face.track_id, settled)
            self.counters.answers_seconded += settled
            await self._outlet.deliver(events, frame.image, [track.face.box_px])

    async def finish_calls(self, timeout_s: float) -> None:
        """Take no more candidates; give the call in flight up to `timeout_s` to end."""
        self._finishing = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._no_call_in_flight.wait()

    async def _call_loop(self) -> None:
        while not self._finishing:
            candidate = await self._pending.take()
            if self._finishing:
                return
            self._no_call_in_flight.clear()
            try:
                await self._call(candidate)
            finally:
                self._no_call_in_flight.set()
                self._pending.done()

    async def _call(self, candidate: Candidate) -> None:
        """One analysis call for a candidate, and what follows from its answer."""
        frame = candidate.frame
        try:
            priority = call_priority(candidate.reason)
            async with self._route.call(self.camera, frame.monotonic_s, priority) as call:
                self._policy.sent(candidate)
                # The device describes the faces the gate found in the frame, not looking again.
                answer = await call.answer(frame.image, [g.face for g in candidate.gated])
        except BudgetDenied as denied:  # too old before its turn came: offered again later
            self._policy.withdrawn(candidate)
            self.counters.calls_dropped_stale += 1
            log.debug("camera %s: %s", self.camera, denied, extra={"camera": self.camera})
            return
        except AnalyzerError as error:  # the device could not analyse it either
            self.counters.calls_made += 1
            self.counters.analysis_errors += 1
            log.warning(
                "camera %s: analysis failed: %s",
                self.camera,
                error,
                extra={"camera": self.camera, "request_id": error.request_id},
            )
            return
        self.counters.calls_made += 1
        await self._outlet.publish(self._analysis_rules.observe(answer.state))
        if answer.fallback is not None:
            fallbacks = self.counters.fallbacks
            fallbacks[answer.fallback] = fallbacks.get(answer.fallback, 0) + 1
        analysis = answer.analysis
        if analysis is None:  # fallback "none": the face stays unanalysed
            self.counters.analysis_errors += 1
            return
        for observer in self.call_observers:
            observer(candidate, analysis)
        await self._answered(candidate, analysis, degraded=answer.fallback)

    async def _answered(
        self,
        candidate: Candidate,
        analysis: FaceAnalysis,
        *,
        degraded: FallbackReason | None = None,
        answer_age_s: float | None = None,
    ) -> None:
        """What follows from an answer: tracks described, events, the policy told.
        `answer_age_s`: the answer is a remembered one (recall.py), this old."""
        if self._signer is not None:
            analysis = await self._signer.sign(analysis, candidate)
        frame = candidate.frame
        at = _frame_time(frame)
        update = self._tracker.attach(analysis, at)
        await self._emit(
            update,
            at,
            analyzer=analysis.analyzer,
            image=frame.image,
            # The cloud's answer and the device's alike: the gate reports only readings its
            # classifier is sure of, so on the device's own path this seconds an answer only
            # when the classifier is confident.
            gate_masks=_gate_masks(candidate),
            degraded=degraded,
            answer_age_s=answer_age_s,
        )
        analysed = {track.track_id: track for track in update.analysed}
        for track_id in candidate.track_ids:
            track = analysed.get(track_id)
            self._policy.answered(
                track_id, None if track is None else track.face.mask, found=track is not None
            )
        for track in update.analysed:
            if track.track_id not in candidate.track_ids:
                self._policy.found_too(track.track_id, track.face.mask, candidate)
            self._policy.decided(track.track_id, self._rules.settled(track.track_id))

    async def _live_loop(self) -> None:
        sequence = -1
        while True:
            try:
                frame = await self._latest.watch(sequence)
            except CameraClosed:
                return  # the gate loop ends the camera, once it dealt with the last frame
            sequence = frame.sequence
            self._board.publish(
                Scene(
                    frame=frame,
                    tracks=self._tracker.active,
                    recent_events=tuple(self._outlet.recent),
                    fps_in=self._reader.stats.fps_in,
                    analysed_up_to_monotonic_s=self._dealt_up_to_monotonic_s,
                    analysis=self._route.state,
                )
            )

    async def close_tracks(self) -> None:
        """End every track now, with face.left for each announced visit: the camera stops
        (a reload) and its faces are followed no more. Call it once `run` has ended."""
        now = FrameTime(self._clock.monotonic_s(), self._clock.wall_s())
        await self._emit(self._tracker.end_all(), now)

    async def _emit(
        self,
        update: TrackUpdate,
        at: FrameTime,
        analyzer: str = "",
        image: np.ndarray | None = None,
        gate_masks: dict[str, Mask] | None = None,
        degraded: FallbackReason | None = None,
        answer_age_s: float | None = None,
    ) -> None:
        """The update's events, with face crops of `image` when the camera wants them."""
        for track in update.left:
            self._policy.forget(track.track_id)
            if self._signer is not None:
                self._signer.forget(track.track_id)
            if self._recall is not None:
                self._recall.forget(track.track_id)
        note: dict[str, object] = {}
        if degraded is not None:
            # Decided on the device's answer because the cloud could not give one: say why.
            note["degraded"] = str(degraded)
        if answer_age_s is not None:
            # Decided on an earlier answer for the same person (recall.py): say how old.
            note["answer_age_s"] = round(answer_age_s, 1)
        events = self._rules.apply(
            update,
            at=at,
            analyzer=analyzer or self._route.name,
            gate_masks=gate_masks,
            remembered=answer_age_s is not None,
            note=note,
        )
        if image is not None:
            faces = [t.face.box_px for t in (*update.analysed, *update.new, *update.updated)]
            await self._outlet.deliver(events, image, faces)
        else:
            await self._outlet.publish(events)


def _frame_time(frame: Frame) -> FrameTime:
    return FrameTime(frame.monotonic_s, frame.timestamp_s)


def _gate_masks(candidate: Candidate) -> dict[str, Mask]:
    """The local gate's confident mask reading of each face in the frame the call was made
    for (faces it was unsure of have none)."""
    return {g.track_id: g.face.mask for g in candidate.gated if g.face.mask is not None}
