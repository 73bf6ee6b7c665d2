"""Writing a replay's report: summary.json, timeline.png, index.html (events.jsonl and the
crops are already there, written by the replay's sink)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from streamwatch.replay.page import render_page
from streamwatch.replay.plot import draw_timeline
from streamwatch.replay.run import EVENTS_FILE, Replayed, ReplayOptions
from streamwatch.replay.settings import pick_camera
from streamwatch.replay.summary import summarize
from streamwatch.replay.truth import score

SUMMARY_FILE = "summary.json"
PLOT_FILE = "timeline.png"
PAGE_FILE = "index.html"


@dataclass(frozen=True, slots=True)
class ReportFiles:
    page: Path
    summary: Path
    plot: Path
    events: Path


def write_report(options: ReplayOptions, replayed: Replayed, command: str) -> ReportFiles:
    directory = options.report_dir
    truth = None
    if options.truth is not None:
        min_face_px = pick_camera(options.settings, options.camera).rules.min_face_px
        truth = score(options.truth, replayed.events, replayed.media_s, min_face_px)
    plot = draw_timeline(
        directory / PLOT_FILE,
        replayed.frames,
        replayed.calls,
        replayed.events,
        fps=replayed.recording.fps,
        end_s=replayed.media_s,
        sharpness_floor=options.settings.selection.sharpness_floor,
        min_face_px=options.settings.selection.min_face_px,
        max_yaw_deg=options.settings.selection.max_yaw_deg,
        visits=options.truth or (),
        title=f"{replayed.recording.name}: {replayed.counters.calls_made} calls, "
        f"{len(replayed.events)} events in {replayed.media_s:.1f} s",
    )
    summary = summarize(options, replayed, truth, plot)
    files = ReportFiles(
        page=directory / PAGE_FILE,
        summary=directory / SUMMARY_FILE,
        plot=directory / PLOT_FILE,
        events=directory / EVENTS_FILE,
    )
    files.summary.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    files.page.write_text(render_page(summary, command), encoding="utf-8")
    return files
