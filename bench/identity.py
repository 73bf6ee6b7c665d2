"""How long "have we seen this face before?" takes with a full identity memory.

    python bench/identity.py [--identities N] [--repeat N] [--label NAME]

One search of the identity memory (`IdentityMemory.recognise`) with N identities (default
500) of 5 SFace-sized (128 values) signatures each, every signature compared. It runs on the
event loop for every new face. Writes bench/results/identity.json; --label names the figure
(run it on the old code with `--label before` to keep that figure next to the new one).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
from common import median_ms, write_results

from streamwatch.analysis.model import Signature
from streamwatch.config.model import TrackingSettings
from streamwatch.tracking.identity import SIGNATURES_PER_IDENTITY, IdentityMemory

RESULTS = Path(__file__).parent / "results" / "identity.json"
DIMS = 128  # SFace


def full_memory(identities: int, rng: np.random.Generator) -> IdentityMemory:
    """`identities` people, each seen often enough to hold every signature it keeps."""
    memory = IdentityMemory(TrackingSettings(forget_after_s=1e9, identity_max_distance=0.2))
    for person in range(identities):
        face = rng.normal(size=DIMS)
        for view in range(SIGNATURES_PER_IDENTITY):
            # Views of one person lie close together; people lie far apart.
            values = face + rng.normal(scale=0.05, size=DIMS)
            memory.recognise(f"t{person}-{view}", _signature(values), now_s=0.0)
    assert len(memory) == identities, f"{len(memory)} identities, expected {identities}"
    return memory


def _signature(values: np.ndarray) -> Signature:
    return Signature(tuple(float(v) for v in values), "sface")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--label", default="after")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    memory = full_memory(args.identities, rng)
    stranger = _signature(rng.normal(size=DIMS))
    # The warm-up search remembers the stranger (one identity more); every timed one then
    # compares the face with every signature of every identity, as a new face does.
    search_ms = median_ms(lambda: memory.recognise("stranger", stranger, now_s=1.0), args.repeat)
    print(
        f"{args.label}: {args.identities} identities x {SIGNATURES_PER_IDENTITY} signatures: "
        f"{search_ms} ms a search (median of {args.repeat})"
    )
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results |= {
        "benchmark": "identity",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "identities": args.identities,
        "signatures_per_identity": SIGNATURES_PER_IDENTITY,
        "dims": DIMS,
    }
    results.setdefault("search_ms", {})[args.label] = search_ms
    write_results(RESULTS, results)


if __name__ == "__main__":
    main()
