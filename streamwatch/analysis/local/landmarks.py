"""The contract's 105-point layout, filled as far as YuNet's five points allow.

The API groups its 105 points as eyebrows 24, eyes 32, nose 6, mouth 34, face contour 9, and
does not document the order inside a group. YuNet gives five points, each of which belongs
to one group, so the mapping is:

| YuNet point | contract group | index |
|---|---|---|
| right eye centre (image left) | eyes, first eye's 16 | 24 |
| left eye centre (image right) | eyes, second eye's 16 | 40 |
| nose tip | nose | 56 |
| right mouth corner | mouth | 62 |
| left mouth corner | mouth | 63 |

The other 100 points are unknown (None). Since the contract's `landmarks` list must hold all
105 points of every face, the emulator lists `landmarks` as not estimated rather than
inventing the rest; `Face.landmarks_px` keeps the five native points.
"""

from __future__ import annotations

from streamwatch.analysis.model import Point

CONTRACT_GROUPS: tuple[tuple[str, int], ...] = (
    ("eyebrows", 24),
    ("eyes", 32),
    ("nose", 6),
    ("mouth", 34),
    ("contour", 9),
)
CONTRACT_LANDMARK_COUNT = sum(size for _, size in CONTRACT_GROUPS)
# The contract index of each YuNet point, in YuNet's order.
YUNET_TO_CONTRACT_INDEX = (24, 40, 56, 62, 63)


def group_start(name: str) -> int:
    start = 0
    for group, size in CONTRACT_GROUPS:
        if group == name:
            return start
        start += size
    raise KeyError(
        f"no landmark group {name!r}; the contract has {[g for g, _ in CONTRACT_GROUPS]}"
    )


def contract_landmarks(native_points: tuple[Point, ...]) -> tuple[Point | None, ...]:
    """105 entries in the contract's group order; None where the model has no point."""
    slots: list[Point | None] = [None] * CONTRACT_LANDMARK_COUNT
    for point, index in zip(native_points, YUNET_TO_CONTRACT_INDEX, strict=False):
        slots[index] = point
    return tuple(slots)
