"""Running a replay: the real App over one recording, observed, until the recording ends."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from pydantic import SecretStr

from streamwatch.app.reports import GateReport, PipelineCounters
from streamwatch.app.runner import App
from streamwatch.capture.reader import CameraState
from streamwatch.capture.sources import VideoSource, open_source
from streamwatch.capture.stepped import SteppedFrames
from streamwatch.clock import MediaClock
from streamwatch.config.model import AnalyzerSettings, CameraSettings, Settings
from streamwatch.replay import DEFAULT_PRICE_PER_CALL
from streamwatch.replay.collect import CallRecord, Collector, FrameRecord
from streamwatch.replay.events import CROPS_DIR, EventRecord, read_events
from streamwatch.replay.progress import ProgressBar
from streamwatch.replay.recording import EndAfter, Recording, ReplayError, probe
from streamwatch.replay.settings import pick_camera, replay_settings
from streamwatch.replay.truth import Visit

AnalyzerChoice = Literal["local", "emulator", "ailab"]
EVENTS_FILE = "events.jsonl"
# In a fast replay a call still waiting for the budget when the recording ends waits for a
# media time that never comes: the end does not wait for it (live, calls get stop_timeout_s).
FAST_STOP_TIMEOUT_S = 0.05


@dataclass(frozen=True)
class ReplayOptions:
    video: str  # a video file, or "demo"
    settings: Settings
    report_dir: Path
    camera: str | None = None  # whose settings to play it with (default: the first camera)
    analyzer: AnalyzerChoice = "local"
    realtime: bool = False  # paced at the recording's frame rate, on the machine's clock
    duration_s: float | None = None  # only this much of the recording (media seconds)
    truth: tuple[Visit, ...] | None = None
    price_per_call: float = DEFAULT_PRICE_PER_CALL
    config_path: Path | None = None  # shown in the report
    progress: TextIO | None = None  # a progress bar here when it is a terminal


@dataclass(frozen=True)
class Replayed:
    """What one replay did."""

    recording: Recording
    camera: str
    frames: list[FrameRecord]
    calls: list[CallRecord]
    events: list[EventRecord]
    counters: PipelineCounters
    frames_read: int
    frames_dropped: int
    held_s: list[float] = field(default_factory=list)  # fast: wall time spent per frame
    interrupted: bool = False

    @property
    def media_s(self) -> float:
        """Media seconds replayed."""
        return self.frames_read / self.recording.fps


async def play(options: ReplayOptions, stop: asyncio.Event | None = None) -> Replayed:
    """Replay the recording of `options` to its end (or until `stop` is set)."""
    recording = probe(options.video, options.duration_s)
    camera = pick_camera(options.settings, options.camera)
    stop = stop or asyncio.Event()
    media_clock = None if options.realtime else MediaClock(recording.fps)
    collector = Collector(recording.fps, media_clock)
    bar = ProgressBar(options.progress, recording.duration_s)
    events_path = options.report_dir / EVENTS_FILE
    async with _analyzer(options.analyzer, options.settings.analyzer) as analyzer:
        _clear(options.report_dir)
        settings = replay_settings(
            options.settings,
            camera=camera,
            source=recording.source,
            realtime=options.realtime,
            analyzer=analyzer,
            events_path=events_path,
        )
        if media_clock is not None:
            status = settings.status.model_copy(update={"stop_timeout_s": FAST_STOP_TIMEOUT_S})
            settings = settings.model_copy(update={"status": status})
        with tempfile.TemporaryDirectory(prefix="streamwatch-replay-") as state_dir:
            async with App(
                settings,
                media_clock=media_clock,
                sources=_sources(options.duration_s, recording),
                state_dir=Path(state_dir),
            ) as app:
                played = settings.cameras[0].name
                pipeline, reader = app.pipelines[played], app.readers[played]
                collector.attach(pipeline)
                counters = pipeline.counters

                def progress(report: GateReport) -> None:
                    media_s = collector.media_s(report.frame.sequence)
                    bar.update(media_s, counters.calls_made, counters.events)

                pipeline.gate_observers.append(progress)
                try:
                    await app.run(stop)
                finally:
                    played_s = reader.stats.frames_read / recording.fps
                    bar.finish(played_s, counters.calls_made, counters.events)
                finished = reader.state is CameraState.FINISHED
    latest = reader.latest
    return Replayed(
        recording=recording,
        camera=played,
        frames=collector.frames,
        calls=collector.calls,
        events=read_events(events_path, options.report_dir, collector.media_at),
        counters=counters,
        frames_read=reader.stats.frames_read,
        frames_dropped=reader.stats.frames_dropped,
        held_s=latest.held_s if isinstance(latest, SteppedFrames) else [],
        interrupted=not finished,
    )


def _clear(report_dir: Path) -> None:
    """A report is of one replay: the events sink appends, and crops are numbered."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / EVENTS_FILE).unlink(missing_ok=True)
    shutil.rmtree(report_dir / CROPS_DIR, ignore_errors=True)


def _sources(
    duration_s: float | None, recording: Recording
) -> Callable[[CameraSettings], VideoSource]:
    def opened(camera: CameraSettings) -> VideoSource:
        source = open_source(camera)
        if duration_s is None or recording.frames is None:
            return source
        return EndAfter(source, recording.frames)

    return opened


@asynccontextmanager
async def _analyzer(
    choice: AnalyzerChoice, configured: AnalyzerSettings
) -> AsyncIterator[AnalyzerSettings]:
    """The analyzer settings of the replay; the emulator runs while they are in use."""
    if choice == "local":
        yield configured.model_copy(update={"kind": "local"})
    elif choice == "ailab":
        if configured.api_key is None:
            raise ReplayError(
                "--analyzer ailab calls the cloud API (billed): give a --config whose "
                "[analyzer] has api_key or api_key_file"
            )
        yield configured.model_copy(update={"kind": "ailab"})
    else:
        from streamwatch.analysis.emulator import serve_emulator
        from streamwatch.analysis.local import LocalAnalyzer

        key = secrets.token_urlsafe(24)  # for this replay only; never written anywhere
        local = LocalAnalyzer(min_face_probability=configured.min_face_probability)
        async with local as engine, serve_emulator(engine, api_key=key) as url:
            yield configured.model_copy(
                update={"kind": "ailab", "url": url, "api_key": SecretStr(key)}
            )
