"""Wiring: the parts of the configuration, started in order and stopped in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from contextlib import AsyncExitStack

import aiohttp

from streamwatch.analysis.analyzer import Analyzer
from streamwatch.budget.limiter import CallBudget
from streamwatch.capture.reader import CameraReader
from streamwatch.capture.sources import open_source
from streamwatch.config.model import AnalyzerSettings, Settings
from streamwatch.delivery.dispatcher import Dispatcher
from streamwatch.delivery.sinks import build_sink
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
                reader = await stack.enter_async_context(
                    CameraReader(camera, open_source(camera))
                )
                assert reader.latest is not None
                pipelines.append(
                    CameraPipeline(
                        camera=camera.name,
                        latest=reader.latest,
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
            tasks = [asyncio.create_task(p.run(), name=f"camera {p.camera}") for p in pipelines]
            if settings.overlay.window:
                tasks.append(asyncio.create_task(show_windows(board, settings.overlay, stop)))
            all_done = asyncio.gather(*tasks)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(duration_s):
                    await asyncio.wait(
                        [all_done, asyncio.ensure_future(stop.wait())],
                        return_when=asyncio.FIRST_COMPLETED,
                    )
            log.info("stopping")
            for task in tasks:
                task.cancel()
            await asyncio.gather(all_done, return_exceptions=True)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
