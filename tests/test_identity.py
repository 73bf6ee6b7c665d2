"""The identity memory: the matrix search finds what comparing one by one finds, and the
file keeps wall-clock times while the memory runs on the frames' monotonic clock."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamwatch.analysis.model import Signature
from streamwatch.clock import MediaClock
from streamwatch.config import TrackingSettings
from streamwatch.tracking import IdentityMemory
from streamwatch.tracking.signatures import SignatureIndex

KEPT = 3  # signatures per identity in the index under test


def _signature(values: np.ndarray, model: str = "sface") -> Signature:
    return Signature(tuple(float(v) for v in values), model)


def test_the_index_finds_the_nearest_identity_as_one_by_one_comparison_does() -> None:
    rng = np.random.default_rng(3)
    index = SignatureIndex(per_identity=KEPT)
    kept: dict[str, list[Signature]] = {}  # what the index should hold: the latest KEPT
    for n in range(200):  # more than its first allocation: it grows
        identity_id = f"id-{n}"
        for _ in range(rng.integers(1, 6)):  # up to 5 views: the oldest are overwritten
            signature = _signature(rng.normal(size=16))
            index.add(identity_id, signature)
            kept[identity_id] = [*kept.get(identity_id, []), signature][-KEPT:]
    for n in range(0, 200, 7):  # forgotten ones are never found again
        index.remove(f"id-{n}")
        del kept[f"id-{n}"]
    index.add("other-model", _signature(rng.normal(size=16), model="arcface"))
    for _ in range(50):
        probe = _signature(rng.normal(size=16))
        exclude = {str(i) for i in rng.choice(sorted(kept), size=5, replace=False)}
        expected = min(
            (min(s.cosine_distance(probe) for s in signatures), identity_id)
            for identity_id, signatures in kept.items()
            if identity_id not in exclude
        )
        found = index.nearest(probe, exclude=exclude)
        assert found is not None
        assert found[0] == expected[1] and abs(found[1] - expected[0]) < 1e-9


def test_an_empty_or_foreign_index_finds_nobody() -> None:
    index = SignatureIndex(per_identity=KEPT)
    probe = _signature(np.ones(8))
    assert index.nearest(probe) is None
    index.add("id-1", probe)
    assert index.nearest(_signature(np.ones(8), model="arcface")) is None
    assert index.nearest(probe, exclude={"id-1"}) is None
    index.remove("id-1")
    assert index.nearest(probe) is None


def test_the_file_keeps_wall_clock_times_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "identities.json"
    face = _signature(np.ones(8))
    settings = TrackingSettings(forget_after_s=600)
    # First run: monotonic 50 s is wall clock 1 000 050 s.
    first_clock = MediaClock(25, start_wall_s=1_000_000)
    first_clock.advance_to(50.0)
    first = IdentityMemory(settings, path, clock=first_clock)
    first.recognise("door-1", face, now_s=50.0)
    first.save()
    # After a restart (a reboot: monotonic time starts again) 120 s of wall clock later.
    second_clock = MediaClock(25, start_wall_s=1_000_170)
    second = IdentityMemory(settings, path, clock=second_clock)
    recognition = second.recognise("door-1", face, now_s=0.0)
    assert recognition.returned and recognition.away_s == 120.0
    # …and forgotten once forget_after_s has passed on the new monotonic clock.
    assert not second.recognise("door-2", face, now_s=700.0).returned
