"""What the call policy saves, and what it costs in recall, on the real clips.

    python bench/selection.py [--clips NAME ...]

Each clip of ../shared/media/videos is replayed in real time through capture → selection →
budget → the cloud client → the emulator (serving the API contract from the local analyzer),
and the calls are counted against the ground truth of the media README and truth files. The
same clips are then "polled" at 1 Hz and every 10 s (one call per period, whatever is in the
picture), as Home Assistant-style integrations do. Reported per policy: calls, calls per
person-appearance, appearances caught (an analysis found the face while the person was
there) and mask states caught (an analysis said the right mask state during the appearance).

A second measure: the cost of the gate (motion gate on every frame, face detector on the
frames it runs on) against the cost of decoding, on the entrance clip scaled to 1080p.

Prints tables and writes bench/results/selection.json.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from common import MEDIA_VIDEOS, clips_from_arguments, write_results

from streamwatch.analysis.client import CloudAnalyzer
from streamwatch.analysis.emulator import serve_emulator
from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.model import FaceAnalysis, Mask
from streamwatch.app.reports import PipelineCounters
from streamwatch.app.runner import App
from streamwatch.config import AnalyzerSettings, SelectionSettings, Settings
from streamwatch.selection.motion import MotionGate
from streamwatch.selection.policy import Candidate

MEDIA = MEDIA_VIDEOS
RESULTS = Path(__file__).parent / "results" / "selection.json"
API_KEY = "bench-key"


@dataclass(frozen=True)
class Appearance:
    """A person in view with an analysable face (≥ 64 px) between start_s and end_s."""

    person: str
    start_s: float
    end_s: float
    masks: tuple[tuple[float, float, int], ...]  # (from_s, to_s, mask state) within it
    together_with: int = 1  # people in view at once (all must be found by one analysis)


@dataclass
class Clip:
    name: str
    appearances: list[Appearance]
    note: str = ""


@dataclass
class Call:
    at_s: float  # media time of the analysed frame
    analysis: FaceAnalysis


def ground_truth() -> list[Clip]:
    """Appearances with analysable faces, from the truth files and the media README."""

    def load(name: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((MEDIA / f"{name}.truth.json").read_text())
        return document

    entrance = load("entrance_sim")
    asl = load("asl_5people_sequence")
    return [
        Clip(
            "entrance_sim",
            [
                Appearance(
                    v["person"],
                    v["enter_s"],
                    v["leave_s"],
                    ((v["enter_s"], v["leave_s"], v["mask"]),),
                )
                for v in entrance["visits"]
            ],
        ),
        Clip(
            "asl_5people_sequence",
            [
                Appearance(s["person"], s["start_s"], s["end_s"], ((s["start_s"], s["end_s"], 0),))
                for s in asl["segments"]
            ],
        ),
        Clip(
            "head_pose_2people",
            [Appearance("woman+man", 0.0, 4.67, ((0.0, 4.67, 0),), together_with=2)],
        ),
        # Mask on (adjusted with both hands) for about the first half, then off (README).
        Clip("mask_on_off", [Appearance("man", 0.0, 3.9, ((0.0, 1.9, 1), (2.1, 3.9, 0)))]),
        Clip(
            "short_hamilton_clip",
            [
                Appearance("performer", 3.0, 7.0, ((3.0, 7.0, 0),)),
                Appearance("the Obamas", 7.0, 10.0, ((7.0, 10.0, 0),), together_with=2),
            ],
            "faces 50-80 px: partly below the API's 64 px",
        ),
        Clip("walk_and_pause_3people", [], "faces 45-65 px: below the API's minimum"),
        Clip("classroom_4people", [], "faces 15-25 px"),
        Clip("backs_3people_part1", [], "people, motion, no face at any time"),
    ]


def score(clip: Clip, calls: list[Call]) -> dict[str, Any]:
    """Appearances caught, and mask periods (a state between two changes) caught right."""
    caught = mask_periods = masks_caught = 0
    for appearance in clip.appearances:
        during = [c for c in calls if appearance.start_s <= c.at_s <= appearance.end_s]
        if any(c.analysis.face_count >= appearance.together_with for c in during):
            caught += 1
        for start_s, end_s, mask in appearance.masks:
            mask_periods += 1
            if any(
                start_s <= c.at_s <= end_s and _masked(c.analysis) == (1 if mask else 0)
                for c in during
            ):
                masks_caught += 1
    appearances = len(clip.appearances)
    return {
        "calls": len(calls),
        "appearances": appearances,
        "caught": caught,
        "mask_periods": mask_periods,
        "masks_caught": masks_caught,
        "calls_per_appearance": round(len(calls) / appearances, 2) if appearances else None,
    }


def _masked(analysis: FaceAnalysis) -> int | None:
    states = [face.mask for face in analysis.faces if face.mask is not None]
    if not states:
        return None
    return 0 if Mask.NONE in states else 1


async def run_policy(path: Path, api_url: str) -> tuple[list[Call], PipelineCounters]:
    """Our pipeline in real time on one clip: the calls it made (at media time), its counters."""
    fps = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS)
    settings = Settings.model_validate(
        {
            "cameras": [{"name": "clip", "source": str(path), "loop": False}],
            "analyzer": {"kind": "ailab", "url": api_url, "api_key": API_KEY},
            "sinks": [],
            "overlay": {"web": False},
            "status": {"port": 0},
        }
    )
    calls: list[Call] = []

    def record(candidate: Candidate, analysis: FaceAnalysis) -> None:
        calls.append(Call((candidate.frame.sequence - 1) / fps, analysis))

    # An outbox of its own: the bench must not touch the daemon's state directory.
    with tempfile.TemporaryDirectory() as state_dir:
        async with App(settings, state_dir=Path(state_dir)) as app:
            pipeline = app.pipelines["clip"]
            pipeline.call_observers.append(record)
            await app.run(asyncio.Event())
    return calls, pipeline.counters


async def run_polling(path: Path, api_url: str, period_s: float) -> list[Call]:
    """One call per period on the frame of that moment, whatever is in the picture."""
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    calls = []
    settings = AnalyzerSettings(kind="ailab", url=api_url, api_key=API_KEY)
    async with CloudAnalyzer(settings) as client:
        at_s = 0.0
        while (index := round(at_s * fps)) < len(frames):
            calls.append(Call(at_s, await client.analyze(frames[index])))
            at_s += period_s
    return calls


def gate_cost(path: Path, detector_runs_per_frame: float) -> dict[str, float]:
    """Milliseconds per 1080p frame: decoding, the motion gate, the detector when it runs."""
    with tempfile.TemporaryDirectory() as directory:
        hd = Path(directory) / "1080p.mp4"
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(path),
                "-t",
                "30",
                "-vf",
                "scale=1920:1080",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                str(hd),
            ],
            check=True,
        )
        # Timed on its own: keeping every decoded 1080p frame (6 MB each) in a list would make
        # "decoding" mostly page faults, three times slower than decoding is.
        capture = cv2.VideoCapture(str(hd))
        decoded = 0
        started = time.perf_counter()
        while capture.read()[0]:
            decoded += 1
        decode_ms = (time.perf_counter() - started) * 1000 / decoded
        # The gate is timed on the first 10 s of the same frames.
        capture = cv2.VideoCapture(str(hd))
        frames: list[np.ndarray] = []
        while len(frames) < 150 and (read := capture.read())[0]:
            frames.append(read[1])
    gate = MotionGate(SelectionSettings())
    started = time.perf_counter()
    for frame in frames:
        gate.moved(frame)
    motion_ms = (time.perf_counter() - started) * 1000 / len(frames)

    async def detect_ms() -> float:
        async with LocalAnalyzer() as local:
            sample = frames[:: max(1, len(frames) // 40)]
            started = time.perf_counter()
            for frame in sample:
                local.detect_sync(frame)
            return (time.perf_counter() - started) * 1000 / len(sample)

    detector_ms = asyncio.run(detect_ms())
    amortised_ms = motion_ms + detector_runs_per_frame * detector_ms
    return {
        "decode_ms_per_frame": round(decode_ms, 3),
        "motion_gate_ms_per_frame": round(motion_ms, 3),
        "detector_ms_per_run": round(detector_ms, 2),
        "detector_runs_per_frame": round(detector_runs_per_frame, 3),
        "gate_ms_per_frame": round(amortised_ms, 3),
        "motion_gate_vs_decode": round(motion_ms / decode_ms, 4),
        "gate_vs_decode": round(amortised_ms / decode_ms, 4),
    }


async def measure(names: list[str] | None) -> dict[str, Any]:
    clips = [c for c in ground_truth() if names is None or c.name in names]
    results: dict[str, Any] = {"clips": {}}
    totals = {
        p: {"calls": 0, "appearances": 0, "caught": 0, "mask_periods": 0, "masks_caught": 0}
        for p in ("policy", "poll_1hz", "poll_10s")
    }
    async with LocalAnalyzer() as engine, serve_emulator(engine, api_key=API_KEY) as url:
        for clip in clips:
            path = MEDIA / f"{clip.name}.mp4"
            policy_calls, counters = await run_policy(path, url)
            results["clips"][clip.name] = {"counters": asdict(counters)}
            by_policy = {
                "policy": policy_calls,
                "poll_1hz": await run_polling(path, url, 1.0),
                "poll_10s": await run_polling(path, url, 10.0),
            }
            row = {policy: score(clip, calls) for policy, calls in by_policy.items()}
            results["clips"][clip.name] |= {**row, "note": clip.note}
            for policy, figures in row.items():
                for key in totals[policy]:
                    totals[policy][key] += figures[key]
            print(
                f"{clip.name:<24} "
                + "  ".join(
                    f"{p}: {f['calls']:>3} calls, {f['caught']}/{f['appearances']} caught, "
                    f"{f['masks_caught']}/{f['mask_periods']} masks"
                    for p, f in row.items()
                )
            )
    # The counts stay whole numbers; the ratios made from them go beside them in the results.
    results["totals"] = {
        policy: {
            **counts,
            "recall": (
                round(counts["caught"] / counts["appearances"], 3)
                if counts["appearances"]
                else None
            ),
            "calls_per_appearance": round(counts["calls"] / counts["appearances"], 2),
        }
        for policy, counts in totals.items()
    }
    results["calls_vs_1hz"] = round(totals["policy"]["calls"] / totals["poll_1hz"]["calls"], 3)
    return results


def main() -> None:
    clips = clips_from_arguments()
    results = asyncio.run(measure(clips))
    print("\ntotals:")
    for policy, figures in results["totals"].items():
        print(f"  {policy:<9} {figures}")
    print(f"policy calls / 1 Hz polling calls: {results['calls_vs_1hz']}")
    # How often the face detector ran on the entrance clip, from the policy's own counters.
    counters = results["clips"].get("entrance_sim", {}).get("counters")
    runs_per_frame = (
        (counters["frames_seen"] - counters["dropped_motion"] - counters["dropped_rate"])
        / counters["frames_seen"]
        if counters
        else 1.0
    )
    results["gate_cost_1080p"] = gate_cost(MEDIA / "entrance_sim.mp4", runs_per_frame)
    print(f"gate cost at 1080p: {results['gate_cost_1080p']}")
    write_results(RESULTS, results)


if __name__ == "__main__":
    main()
