"""Wiring: the parts of the configuration, started in order and stopped in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from contextlib import AsyncExitStack

import aiohttp

from streamwatch.analysis.analyzer import Analyzer
from streamwatch.budget.limiter import CallBudget
from streamwatch.capture.reader import CameraReader
from streamwatch.capture.sources import open_source
from streamwatch.config.model import AnalyzerSettings, Settings
from streamwatch.delivery.dispatcher import Dispatcher
from streamwatch.delivery.sinks import build_sink
from streamwatch.events.camera import CameraHealthRules
from streamwatch.events.rules import EventRules
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.web import serve_live_view
from streamwatch.overlay.window import show_windows
from streamwatch.selection.selector import FrameSelector
from streamwatch.tracking.tracker import Tracker

from .pipeline import CameraPipeline

log = logging.getLogger("streamwatch.app")


def build_analyzer(settings: AnalyzerSettings) -> Analyzer:
    if settings.kind == "ailab":
        from streamwatch.analysis.client import CloudAnalyzer

        return CloudAnalyzer(settings)
    from streamwatch.analysis.local import LocalAnalyzer

    return LocalAnalyzer(min_face_probability=settings.min_face_probability)


async def run(settings: Settings, *, duration_s: float | None = None) -> None:
    """Run until SIGINT/SIGTERM, or for `duration_s` seconds."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with AsyncExitStack() as stack:
            session = await stack.enter_async_context(aiohttp.ClientSession())
            analyzer = await stack.enter_async_context(build_analyzer(settings.analyzer))
            dispatcher = await stack.enter_async_context(
                Dispatcher([build_sink(sink, session) for sink in settings.sinks])
            )
            board = SceneBoard([camera.name for camera in settings.cameras])
            if settings.overlay.web:
                url = await stack.enter_async_context(serve_live_view(board, settings.overlay))
                log.info("live view at %s", url)
            budget = CallBudget(settings.budget)
            pipelines = []
            for camera in settings.cameras:
                reader = await stack.enter_async_context(CameraReader(camera, open_source(camera)))
                pipelines.append(
                    CameraPipeline(
                        camera=camera.name,
                        reader=reader,
                        health=CameraHealthRules(
                            node=settings.node,
                            camera=camera.name,
                            offline_after_s=camera.offline_after_s,
                        ),
                        selector=FrameSelector(settings.selection),
                        budget=budget,
                        analyzer=analyzer,
                        tracker=Tracker(camera.name, settings.tracking),
                        rules=EventRules(node=settings.node, camera=camera.name),
                        dispatcher=dispatcher,
                        board=board,
                        recent_events=settings.overlay.recent_events,
                    )
                )
            window = (
                show_windows(board, settings.overlay, stop) if settings.overlay.window else None
            )
            await _run_until_stopped(pipelines, window, stop, duration_s)
            log.info("stopping")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


class _Stopped(Exception):
    """Raised inside the task group to end it: asked to stop, or every camera finished."""


async def _run_until_stopped(
    pipelines: list[CameraPipeline],
    window: Coroutine[None, None, None] | None,
    stop: asyncio.Event,
    duration_s: float | None,
) -> None:
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
                        group.create_task(p.run(), name=f"camera {p.camera}") for p in pipelines
                    ]
                    group.create_task(stop_when_cameras_end(cameras))
                    group.create_task(end_when_asked())
                    if window is not None:
                        group.create_task(window, name="window")
            except* _Stopped:
                pass
