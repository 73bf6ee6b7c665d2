"""Wiring: the parts of the configuration, started in order and stopped in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp

from streamwatch.analysis.analyzer import Analyzer
from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.budget.limiter import CallBudget
from streamwatch.capture.reader import CameraReader
from streamwatch.capture.sources import open_source
from streamwatch.config.model import AnalyzerSettings, Settings
from streamwatch.delivery.service import open_delivery
from streamwatch.delivery.state_dir import resolve_state_dir
from streamwatch.events.camera import CameraHealthRules
from streamwatch.events.rules import EventRules
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.web import serve_live_view
from streamwatch.overlay.window import show_windows
from streamwatch.tracking.identity import IdentityMemory
from streamwatch.tracking.tracker import Tracker

from .pipeline import CameraPipeline

log = logging.getLogger("streamwatch.app")


def build_analyzer(settings: AnalyzerSettings) -> Analyzer:
    if settings.kind == "ailab":
        from streamwatch.analysis.client import CloudAnalyzer

        return CloudAnalyzer(settings)
    return LocalAnalyzer(min_face_probability=settings.min_face_probability)


async def run(settings: Settings, *, duration_s: float | None = None) -> None:
    """Run until SIGINT/SIGTERM, for `duration_s` seconds, or until every camera finished."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with App(settings) as app:
            await app.run(stop, duration_s=duration_s)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


class App:
    """Every part of one configuration, running between `__aenter__` and `__aexit__`.

    `readers` and `pipelines` (by camera name) and `board` are there to be looked at: by the
    live view, and later health and metrics. Nothing outside changes them.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.board = SceneBoard([camera.name for camera in settings.cameras])
        self.readers: dict[str, CameraReader] = {}
        self.pipelines: dict[str, CameraPipeline] = {}
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> App:
        try:
            await self._start(self._stack)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        log.info("stopping")
        await self._stack.aclose()

    async def _start(self, stack: AsyncExitStack) -> None:
        settings = self.settings
        # Entered in the order of the path of a frame backwards, so that leaving stops the
        # cameras first and the sinks last, once the events of the last frames are out.
        session = await stack.enter_async_context(aiohttp.ClientSession())
        analyzer = await stack.enter_async_context(build_analyzer(settings.analyzer))
        # The local face gate runs on the device whatever the analyzer is; with the local
        # analyzer they share one model.
        gate = analyzer if isinstance(analyzer, LocalAnalyzer) else None
        if gate is None:
            gate = await stack.enter_async_context(
                LocalAnalyzer(min_face_probability=settings.analyzer.min_face_probability)
            )
        dispatcher = await stack.enter_async_context(open_delivery(settings, session))
        if settings.overlay.web:
            url = await stack.enter_async_context(serve_live_view(self.board, settings.overlay))
            log.info("live view at %s", url)
        budget = CallBudget(settings.budget)
        # One memory for every camera: a person walking from one to the next is not new.
        identities = IdentityMemory(settings.tracking, self._identity_path())
        stack.callback(identities.save)
        for camera in settings.cameras:
            reader = await stack.enter_async_context(CameraReader(camera, open_source(camera)))
            self.readers[camera.name] = reader
            self.pipelines[camera.name] = CameraPipeline(
                camera=camera.name,
                reader=reader,
                health=CameraHealthRules(
                    node=settings.node, camera=camera.name, offline_after_s=camera.offline_after_s
                ),
                selection=settings.selection,
                detect=gate.detect,
                signature_of=gate.signature,
                budget=budget,
                analyzer=analyzer,
                tracker=Tracker(camera.name, settings.tracking),
                rules=EventRules(
                    node=settings.node,
                    camera=camera.name,
                    rules=camera.rules,
                    tracking=settings.tracking,
                    identities=identities,
                ),
                dispatcher=dispatcher,
                board=self.board,
                recent_events=settings.overlay.recent_events,
            )

    def _identity_path(self) -> Path | None:
        name = self.settings.tracking.identity_file
        if not name:
            return None
        if Path(name).is_absolute():
            return Path(name)
        return resolve_state_dir(self.settings.state_dir) / name

    async def run(self, stop: asyncio.Event, *, duration_s: float | None = None) -> None:
        """Until `stop` is set, `duration_s` passed, or every camera finished (files)."""

        async def end_when_asked() -> None:
            await stop.wait()
            raise _Stopped

        async def stop_when_cameras_end(cameras: list[asyncio.Task[None]]) -> None:
            await asyncio.wait(cameras)
            stop.set()

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(duration_s):
                try:
                    async with asyncio.TaskGroup() as group:
                        cameras = [
                            group.create_task(pipeline.run(), name=f"camera {name}")
                            for name, pipeline in self.pipelines.items()
                        ]
                        group.create_task(stop_when_cameras_end(cameras))
                        group.create_task(end_when_asked())
                        if self.settings.overlay.window:
                            group.create_task(
                                show_windows(self.board, self.settings.overlay, stop),
                                name="window",
                            )
                except* _Stopped:
                    pass


class _Stopped(Exception):
    """Raised inside the task group to end it: asked to stop, or every camera finished."""
