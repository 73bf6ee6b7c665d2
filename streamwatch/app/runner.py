"""Wiring: the parts of one configuration, started in order and stopped in reverse.

An `App` holds every part of one configuration between `__aenter__` and `__aexit__`; the
daemon around it (signals, reloads, systemd) is in daemon.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from streamwatch.analysis.client import CloudAnalyzer
from streamwatch.analysis.configured import build_analyzer, local_analyzer
from streamwatch.analysis.fallback import AnalysisRoute
from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.budget.ledger import LEDGER_NAME, CallLedger
from streamwatch.budget.limiter import CallBudget
from streamwatch.budget.shared import SharedBackend
from streamwatch.capture.deferred import DeferredSource
from streamwatch.capture.health import CamerasGone, camera_health
from streamwatch.capture.reader import CameraReader
from streamwatch.capture.sources import VideoSource, open_source
from streamwatch.clock import SYSTEM_CLOCK, MediaClock
from streamwatch.config.model import CameraSettings, Settings
from streamwatch.delivery.dispatcher import Dispatcher
from streamwatch.delivery.service import open_delivery
from streamwatch.delivery.state_dir import resolve_state_dir
from streamwatch.events.ack import AckRequest
from streamwatch.events.camera import CameraHealthRules
from streamwatch.events.rules import EventRules
from streamwatch.history import HistorySink, history_of
from streamwatch.overlay.alarm import Alarms
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.web import serve_live_view
from streamwatch.overlay.window import show_windows
from streamwatch.tracking.identity import IdentityMemory
from streamwatch.tracking.signature_schedule import SignatureSchedule
from streamwatch.tracking.tracker import Tracker, TrackNumbers

from .acknowledge import INBOX_SIZE, Acknowledger, emits_acknowledgements
from .pipeline import CameraPipeline
from .status import serve_status

log = logging.getLogger("streamwatch.app")


@dataclass
class _Camera:
    """One camera's running parts, which a reload can stop and start on their own."""

    settings: CameraSettings
    stack: AsyncExitStack
    reader: CameraReader
    pipeline: CameraPipeline
    task: asyncio.Task[None] | None = None


class App:
    """Every part of one configuration, running between `__aenter__` and `__aexit__`.

    `readers`, `pipelines`, `analyzer`, `route`, `budget`, `dispatcher`, `history` and `board` are
    there to be looked at (live view, health, metrics, tests); nothing outside changes them.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        media_clock: MediaClock | None = None,
        sources: Callable[[CameraSettings], VideoSource] = open_source,
        state_dir: Path | None = None,
        track_numbers: TrackNumbers | None = None,
    ) -> None:
        """`media_clock`, `sources` and `state_dir` are for a replay (streamwatch.replay):
        `media_clock` runs the cameras on a recording's own time, every frame, as fast as it
        decodes; `sources` opens them; `state_dir` keeps the outbox apart from the daemon's.
        `track_numbers`: shared by the Apps of one process, so that no track id comes twice."""
        self.settings = settings
        self._track_numbers = track_numbers or TrackNumbers()
        self.media_clock = media_clock
        self.clock = media_clock or SYSTEM_CLOCK
        self._sources = sources
        self._state_dir = state_dir
        overlay = settings.overlay
        self.board = SceneBoard(
            [camera.name for camera in settings.cameras],
            alarms=Alarms(overlay.alarm_events, hold_s=overlay.alarm_hold_s),
            clock=self.clock,
        )
        self._cameras: dict[str, _Camera] = {}
        # Held while a reload replaces cameras: meanwhile the camera a reload stopped is no
        # sign that every camera finished.
        self._reloading = asyncio.Lock()
        self._stack = AsyncExitStack()
        self._group: asyncio.TaskGroup | None = None

    @property
    def readers(self) -> dict[str, CameraReader]:
        return {name: camera.reader for name, camera in self._cameras.items()}

    @property
    def pipelines(self) -> dict[str, CameraPipeline]:
        return {name: camera.pipeline for name, camera in self._cameras.items()}

    async def __aenter__(self) -> App:
        try:
            await self._start(self._stack)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        log.info("stopping")
        for name in list(self._cameras):
            await self._stop_camera(name)
        await self._stack.aclose()

    async def _start(self, stack: AsyncExitStack) -> None:
        settings = self.settings
        # Entered in the order of the path of a frame backwards, so that leaving stops the
        # cameras first and the sinks last, once the events of the last frames are out.
        session = await stack.enter_async_context(aiohttp.ClientSession())
        # The pipelines compute appearance signatures themselves, only for the tracks due one
        # (tracking/signature_schedule.py): the device's analyses come without.
        self.analyzer = await stack.enter_async_context(build_analyzer(settings, signatures=False))
        # The local face gate runs on the device whatever the analyzer is; with the local
        # analyzer they share one model.
        if isinstance(self.analyzer, LocalAnalyzer):
            self.gate = self.analyzer
        else:
            self.gate = await stack.enter_async_context(local_analyzer(settings, signatures=False))
        state_dir = self._state_dir or resolve_state_dir(settings.state_dir)
        # Opened and closed by its sink, within the state directory's lock and after the
        # last delivery.
        self.history = history_of(
            settings.history,
            state_dir,
            alarm_kinds=settings.overlay.alarm_events,
            blur_faces=settings.overlay.blur_faces,
        )
        acks: asyncio.Queue[AckRequest] = asyncio.Queue(INBOX_SIZE)
        self.dispatcher: Dispatcher = await stack.enter_async_context(
            open_delivery(
                settings,
                session,
                state_dir=state_dir,
                more_sinks=[HistorySink(self.history)] if self.history else [],
                acks=acks,
            )
        )
        self.acknowledger = Acknowledger(
            node=settings.node,
            board=self.board,
            dispatcher=self.dispatcher,
            history=self.history,
            emits=lambda camera: emits_acknowledgements(self.settings, camera),
            inbox=acks,
        )
        if settings.overlay.web:
            url = await stack.enter_async_context(
                serve_live_view(
                    self.board,
                    settings.overlay,
                    history=self.history,
                    acknowledge=self.acknowledger.acknowledge,
                )
            )
            log.info("live view at %s", url)
        if settings.status.enabled:
            status_url = await stack.enter_async_context(serve_status(self, settings.status))
            log.info("health at %shealthz, metrics at %smetrics", status_url, status_url)
        ledger = CallLedger(state_dir / LEDGER_NAME)
        backend = None
        # A fleet's boxes share the account's budget; a replay never does (its time is its own),
        # nor a box that never calls the cloud (it would count as one of the account's).
        cloud_calls = settings.analyzer.kind == "ailab" and self.media_clock is None
        if settings.budget.redis_url is not None and cloud_calls:
            backend = await stack.enter_async_context(
                SharedBackend(settings.budget, node=settings.node, ledger=ledger)
            )
        self.budget = await stack.enter_async_context(
            CallBudget(settings.budget, clock=self.clock, ledger=ledger, backend=backend)
        )
        cloud = self.analyzer if isinstance(self.analyzer, CloudAnalyzer) else None
        self.route = AnalysisRoute(
            cloud=cloud,
            local=self.gate if cloud is None or settings.analyzer.fallback == "local" else None,
            budget=self.budget,
            clock=self.clock,
            max_age_s=settings.budget.max_age_s,
        )
        # One memory for every camera: a person walking from one to the next is not new.
        self.identities = IdentityMemory(
            settings.tracking, self._identity_path(state_dir), clock=self.clock
        )
        stack.callback(self.identities.save)
        for camera in settings.cameras:
            await self._start_camera(camera)

    async def _start_camera(self, camera: CameraSettings) -> None:
        settings = self.settings
        stack = AsyncExitStack()
        reader = await stack.enter_async_context(
            CameraReader(camera, self._source(camera), media_clock=self.media_clock)
        )
        pipeline = CameraPipeline(
            camera=camera.name,
            reader=reader,
            health=CameraHealthRules(
                node=settings.node, camera=camera.name, offline_after_s=camera.offline_after_s
            ),
            selection=settings.selection,
            detect=self.gate.detect,
            signature_of=self.gate.signature,
            route=self.route,
            tracker=Tracker(
                camera.name, settings.tracking, numbers=self._track_numbers.of(camera.name)
            ),
            signature_schedule=SignatureSchedule(settings.tracking.signature_refresh_s),
            rules=EventRules(
                node=settings.node,
                camera=camera.name,
                rules=camera.rules,
                tracking=settings.tracking,
                identities=self.identities,
                analysable_from_px=settings.selection.min_face_px,
            ),
            dispatcher=self.dispatcher,
            board=self.board,
            recent_events=settings.overlay.recent_events,
            clock=self.clock,
            evidence=self.history,
        )
        entry = self._cameras[camera.name] = _Camera(camera, stack, reader, pipeline)
        if self._group is not None:
            entry.task = self._group.create_task(pipeline.run(), name=f"camera {camera.name}")

    def _source(self, camera: CameraSettings) -> VideoSource:
        """The camera's source. One that cannot be made now (a file that does not exist) is a
        camera `failed` until it can, never an App (or a reload) that cannot start. Anything
        else making it raises is the reader's to deal with, as any unexpected error: the
        camera `failed`, its kind logged (never its message), given up after max_failures."""
        try:
            return self._sources(camera)
        except Exception:
            return DeferredSource(camera, self._sources)

    async def _stop_camera(self, name: str, *, close_tracks: bool = False) -> None:
        """`close_tracks`: its faces get their face.left (a reload: the rest runs on)."""
        entry = self._cameras.pop(name)
        if entry.task is not None:
            entry.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await entry.task
        if close_tracks:
            await entry.pipeline.close_tracks()
        await entry.stack.aclose()

    async def close_tracks(self) -> None:
        """Every camera's faces get their face.left: this App is being replaced (a reload
        that rebuilds every part). After `run` returned."""
        for camera in self._cameras.values():
            await camera.pipeline.close_tracks()

    def _identity_path(self, state_dir: Path) -> Path | None:
        name = self.settings.tracking.identity_file
        if not name:
            return None
        return state_dir / name  # an absolute name stays what it is

    async def reload(self, settings: Settings) -> bool:
        """Apply a new configuration in place when only cameras' settings changed: restart
        those cameras, only them. False (nothing done) when it changes more than that: the
        caller builds a new App.
        """
        beyond_cameras = [
            section
            for section in Settings.model_fields
            if section != "cameras"
            and getattr(settings, section) != getattr(self.settings, section)
        ]
        old = {camera.name: camera for camera in self.settings.cameras}
        new = {camera.name: camera for camera in settings.cameras}
        if list(old) != list(new):
            beyond_cameras.insert(0, "the list of cameras")
        if beyond_cameras:
            log.info("SIGHUP: %s changed: restarting every part", ", ".join(beyond_cameras))
            return False
        async with self._reloading:
            for name in [name for name in old if old[name] != new[name]]:
                log.info("SIGHUP: camera %s changed: restarting it", name, extra={"camera": name})
                await self._stop_camera(name, close_tracks=True)
                await self._start_camera(new[name])
        self.settings = settings
        return True

    def status_line(self) -> str:
        """One line for `systemctl status`."""
        now_s = self.clock.monotonic_s()
        streaming = sum(
            camera_health(reader.stats, now_s, reader.camera.stall_timeout_s).healthy
            for reader in self.readers.values()
        )
        pending = sum(self.dispatcher.pending(name) for name in self.dispatcher.counters)
        analysis = self.route.state
        degraded = f"analysis degraded ({analysis.reason}); " if analysis.degraded else ""
        return (
            f"{streaming}/{len(self._cameras)} cameras streaming; {degraded}"
            f"{self.budget.state.calls_today} calls today; {pending} events pending"
        )

    async def run(
        self,
        stop: asyncio.Event,
        *,
        duration_s: float | None = None,
        also: list[Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        """Until `stop` is set, `duration_s` passed, or every camera ended: files finished
        (a normal end), or cameras given up (CamerasGone, once none is left running).

        `also`: more tasks to run alongside (the watchdog, the reloader), cancelled at the end.
        On the way out, analyses in flight get `status.stop_timeout_s` to finish, so their
        events are kept.
        """

        async def end_when_asked() -> None:
            await stop.wait()
            await asyncio.gather(
                *(
                    p.finish_calls(self.settings.status.stop_timeout_s)
                    for p in self.pipelines.values()
                )
            )
            raise _Stopped

        cameras_ended = False

        async def stop_when_cameras_end() -> None:
            nonlocal cameras_ended
            while True:
                tasks = [c.task for c in self._cameras.values() if c.task is not None]
                await asyncio.wait(tasks)
                # A reload may be replacing a camera: only stop when all are done.
                async with self._reloading:
                    if all(c.task is not None and c.task.done() for c in self._cameras.values()):
                        cameras_ended = True
                        stop.set()
                        return

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(duration_s):
                try:
                    async with asyncio.TaskGroup() as group:
                        self._group = group
                        for name, camera in self._cameras.items():
                            camera.task = group.create_task(
                                camera.pipeline.run(), name=f"camera {name}"
                            )
                        group.create_task(stop_when_cameras_end())
                        group.create_task(end_when_asked())
                        group.create_task(self.acknowledger.serve_inbox(), name="acks")
                        for coroutine in also or []:
                            group.create_task(coroutine)
                        if self.settings.overlay.window:
                            group.create_task(
                                show_windows(self.board, self.settings.overlay, stop),
                                name="window",
                            )
                except* _Stopped:
                    pass
                finally:
                    self._group = None
        for camera in self._cameras.values():
            camera.task = None
        # Files that finished end a run as planned; cameras given up do not (systemd's
        # Restart=on-failure needs a non-zero exit to try again).
        given_up = [c.reader.stats for c in self._cameras.values() if c.reader.stats.given_up]
        if cameras_ended and given_up:
            raise CamerasGone(given_up)


class _Stopped(Exception):
    """Raised inside the task group to end it: asked to stop, or every camera finished."""
