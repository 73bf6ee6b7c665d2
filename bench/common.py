"""What every benchmark does alike: time a piece of work, and write its figures.

The benchmarks run as scripts (`python bench/NAME.py`), so this module is imported by name.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MEDIA_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"

# The shape of a real face event's data (README, Events), about 700 bytes as JSON.
SAMPLE_FACE = {
    "box_px": {"left": 417, "top": 189, "width": 131, "height": 155},
    "probability": 0.93,
    "mask": "none",
    "age": 34,
    "gender": "female",
    "pose_deg": {"yaw": -1.9, "pitch": 14.0, "roll": 0.6},
    "qualities": {"blur": 88.1, "fnf": 93.0, "pose": 84.1},
}


def clips_from_arguments() -> list[str] | None:
    """`--clips NAME ...` from the command line (None: every clip); exits when the media are
    not there."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", nargs="*", help="only these clips (names without .mp4)")
    args = parser.parse_args()
    if not MEDIA_VIDEOS.is_dir():
        sys.exit(f"cannot run: the media are not at {MEDIA_VIDEOS}")
    clips: list[str] | None = args.clips
    return clips


def median_ms(run: Callable[[], object], repeat: int) -> float:
    """The median wall time of `run` over `repeat` runs, in milliseconds (2 decimals)."""
    run()  # warm-up: first calls pay for allocations and lazy initialisation
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return round(statistics.median(samples) * 1000, 2)


def write_results(path: Path, results: Any) -> None:
    """The figures as JSON under bench/results/, and where they went."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")


def write_labelled_results(path: Path, label: str, figures: Any) -> None:
    """The figures under `label` in `path`, beside those of other labels (before/after)."""
    previous = json.loads(path.read_text()) if path.exists() else {}
    labels = previous.get("labels", {})
    labels[label] = figures
    write_results(path, {**previous, "labels": labels})
