"""The identity memory: the matrix search finds what comparing one by one finds."""

from __future__ import annotations

import numpy as np

from streamwatch.analysis.model import Signature
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
