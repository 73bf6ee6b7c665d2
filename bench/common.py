"""What every benchmark does alike: time a piece of work, and write its figures.

The benchmarks run as scripts (`python bench/NAME.py`), so this module is imported by name.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


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
