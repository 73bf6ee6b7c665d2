"""Every clip on both paths, as `streamwatch replay` plays it: calls, visits caught, mask alerts.

    python bench/replays.py [--clips NAME ...]

Each clip of ../shared/media/videos is replayed on its own clock (every frame, as fast as it
decodes: the same calls and events on every run, whatever the machine's load) with the
built-in settings, once with `--analyzer local` (the device answers) and once with
`--analyzer emulator` (the cloud client over HTTP to the emulator, which serves the same
on-device analyzer through JPEG). Per clip and path:
- calls, against a 1 Hz poller's (one call a second of media);
- appearances caught: an answer found the face(s) while the person was in view with a face of
  at least 64 px (the appearances of bench/selection.py's ground truth) — a call's, or the
  answer remembered for a person back in view (`selection.reuse_answer_s`, app/recall.py);
- maskless stretches alerted: of the appearances' stretches without a mask, those with a
  `face.maskless` during them (the alert a guard is there for);
- mask alerts: `face.maskless` and `face.mask_incorrect` counts, and the wrong ones — a
  maskless alert while the truth says a mask is worn (and no maskless stretch is near), on a
  clip with no face at all, or any `incorrect` alert (no clip shows a mask worn below the
  nose).
Prints a table and writes bench/results/replays.json.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from pathlib import Path
from typing import Any

from common import clips_from_arguments, write_results
from selection import MEDIA, Clip, ground_truth

from streamwatch.app.reports import GateDecision
from streamwatch.config import Settings
from streamwatch.events.kind import EventKind
from streamwatch.replay.collect import CallRecord, FrameRecord
from streamwatch.replay.events import EventRecord
from streamwatch.replay.run import AnalyzerChoice, ReplayOptions, play

RESULTS = Path(__file__).parent / "results" / "replays.json"
PATHS: tuple[AnalyzerChoice, ...] = ("local", "emulator")
TOLERANCE_S = 0.5  # the truth's own precision
NO_FACE_CLIPS = ("backs_3people_part1",)


def caught(clip: Clip, calls: list[CallRecord], frames: list[FrameRecord]) -> int:
    """Appearances an answer found: a call's, or the answer remembered for a person back
    in view (a frame the gate decided REMEMBERED, app/recall.py)."""
    found = [(c.media_s, c.faces_found) for c in calls]
    found += [(f.media_s, f.faces) for f in frames if f.decision is GateDecision.REMEMBERED]
    return sum(
        any(a.start_s <= at_s <= a.end_s and faces >= a.together_with for at_s, faces in found)
        for a in clip.appearances
    )


def maskless_stretches(clip: Clip) -> list[tuple[float, float]]:
    return [
        (start_s, end_s) for a in clip.appearances for start_s, end_s, mask in a.masks if mask == 0
    ]


def alerted(clip: Clip, events: list[EventRecord]) -> int:
    """Maskless stretches with a face.maskless during them (within the truth's precision)."""
    maskless = [e.media_s for e in events if e.kind == EventKind.FACE_MASKLESS]
    return sum(
        any(t is not None and start_s - TOLERANCE_S <= t <= end_s + TOLERANCE_S for t in maskless)
        for start_s, end_s in maskless_stretches(clip)
    )


def wrong_alerts(clip: Clip, events: list[EventRecord]) -> dict[str, int]:
    def near(at_s: float, state: int) -> bool:
        return any(
            start_s - TOLERANCE_S <= at_s <= end_s + TOLERANCE_S
            for a in clip.appearances
            for start_s, end_s, mask in a.masks
            if mask == state
        )

    maskless = [e.media_s for e in events if e.kind == EventKind.FACE_MASKLESS]
    return {
        "face.maskless": sum(
            clip.name in NO_FACE_CLIPS or (t is not None and near(t, 1) and not near(t, 0))
            for t in maskless
        ),
        "face.mask_incorrect": sum(e.kind == EventKind.FACE_MASK_INCORRECT for e in events),
    }


async def measure(names: list[str] | None) -> dict[str, Any]:
    clips = [c for c in ground_truth() if names is None or c.name in names]
    results: dict[str, Any] = {"clips": {}, "totals": {}}
    totals = {
        p: {
            "calls": 0,
            "poll_1hz": 0,
            "appearances": 0,
            "caught": 0,
            "answers_reused": 0,
            "maskless_stretches": 0,
            "maskless_alerted": 0,
        }
        for p in PATHS
    }
    wrong_total = {p: {"face.maskless": 0, "face.mask_incorrect": 0} for p in PATHS}
    for clip in clips:
        row: dict[str, Any] = {}
        for path in PATHS:
            with tempfile.TemporaryDirectory() as report_dir:
                replayed = await play(
                    ReplayOptions(
                        video=str(MEDIA / f"{clip.name}.mp4"),
                        settings=Settings(),
                        report_dir=Path(report_dir),
                        analyzer=path,
                    )
                )
            polled = math.ceil(replayed.media_s)
            kinds = [e.kind for e in replayed.events]
            wrong = wrong_alerts(clip, replayed.events)
            row[path] = {
                "calls": replayed.counters.calls_made,
                "poll_1hz": polled,
                "by_reason": {r: [c.reason for c in replayed.calls].count(r) for r in REASONS},
                "appearances": len(clip.appearances),
                "caught": caught(clip, replayed.calls, replayed.frames),
                "answers_reused": replayed.counters.answers_reused,
                "maskless_stretches": len(maskless_stretches(clip)),
                "maskless_alerted": alerted(clip, replayed.events),
                "face.new": kinds.count(EventKind.FACE_NEW),
                "face.returned": kinds.count(EventKind.FACE_RETURNED),
                "face.maskless": kinds.count(EventKind.FACE_MASKLESS),
                "face.mask_incorrect": kinds.count(EventKind.FACE_MASK_INCORRECT),
                "wrong": wrong,
            }
            for key in totals[path]:
                totals[path][key] += row[path][key]
            for kind, count in wrong.items():
                wrong_total[path][kind] += count
        results["clips"][clip.name] = row
        print(
            f"{clip.name:<24} "
            + "  ".join(
                f"{p}: {f['calls']:>2}/{f['poll_1hz']:<3} calls, {f['caught']}/{f['appearances']}"
                f" caught ({f['answers_reused']} remembered),"
                f" maskless alerted {f['maskless_alerted']}/{f['maskless_stretches']},"
                f" maskless {f['face.maskless']} (wrong {f['wrong']['face.maskless']}),"
                f" incorrect {f['face.mask_incorrect']}"
                for p, f in row.items()
            )
        )
    for path in PATHS:
        t = totals[path]
        results["totals"][path] = {
            **t,
            "calls_vs_1hz": round(t["calls"] / max(t["poll_1hz"], 1), 4),
            "wrong_alerts": wrong_total[path],
        }
    return results


REASONS = ("new", "better", "changed", "undecided", "refresh")


def main() -> None:
    clips = clips_from_arguments()
    results = asyncio.run(measure(clips))
    print("\ntotals:")
    for path, figures in results["totals"].items():
        print(f"  {path:<9} {figures}")
    write_results(RESULTS, results)


if __name__ == "__main__":
    main()
