"""The signature index: every remembered face's signatures in one matrix, searched at once.

"Is this face one we know?" compares it with every signature of every identity: 2 500 of
them at 500 identities. One matrix product does that in a fraction of a millisecond, where a
loop in Python took ~20 ms, on the event loop, for every new face.

Each identity owns a block of `per_identity` rows (its latest signatures, the oldest
overwritten first); rows are unit vectors, so a cosine distance is 1 minus a dot product.
Signatures of different models (or lengths) never compare: each has a matrix of its own.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from streamwatch.analysis.model import Signature

INITIAL_IDENTITIES = 64  # rows are allocated for this many, doubled when full


@dataclass
class _Matrix:
    """The signatures of one model: identity slot s owns rows s*K … s*K+K-1."""

    dims: int
    per_identity: int
    rows: np.ndarray = field(init=False)  # (slots * K, dims) unit vectors, float64
    filled: np.ndarray = field(init=False)  # (slots * K,) bool: the row holds a signature
    owners: list[str | None] = field(default_factory=list)  # identity of each slot
    slots: dict[str, int] = field(default_factory=dict)  # identity → its slot
    written: list[int] = field(default_factory=list)  # signatures written per slot, ever
    free: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rows = np.zeros((INITIAL_IDENTITIES * self.per_identity, self.dims))
        self.filled = np.zeros(INITIAL_IDENTITIES * self.per_identity, dtype=bool)

    def add(self, identity_id: str, vector: np.ndarray) -> None:
        slot = self.slots.get(identity_id)
        if slot is None:
            slot = self._new_slot(identity_id)
        row = slot * self.per_identity + self.written[slot] % self.per_identity
        self.rows[row] = vector
        self.filled[row] = True
        self.written[slot] += 1

    def remove(self, identity_id: str) -> None:
        slot = self.slots.pop(identity_id, None)
        if slot is None:
            return
        self.filled[slot * self.per_identity : (slot + 1) * self.per_identity] = False
        self.owners[slot] = None
        self.free.append(slot)

    def nearest(self, vector: np.ndarray, exclude: Collection[str]) -> tuple[str, float] | None:
        used = len(self.owners)
        if used == len(self.free):
            return None
        rows = used * self.per_identity
        distances = 1.0 - self.rows[:rows] @ vector
        distances[~self.filled[:rows]] = np.inf
        per_slot = distances.reshape(used, self.per_identity).min(axis=1)
        for identity_id in exclude:
            if (slot := self.slots.get(identity_id)) is not None:
                per_slot[slot] = np.inf
        best = int(np.argmin(per_slot))
        owner = self.owners[best]
        if owner is None or not np.isfinite(per_slot[best]):
            return None
        return owner, float(per_slot[best])

    def _new_slot(self, identity_id: str) -> int:
        if self.free:
            slot = self.free.pop()
            self.owners[slot] = identity_id
            self.written[slot] = 0
        else:
            slot = len(self.owners)
            if (slot + 1) * self.per_identity > len(self.rows):
                self._grow()
            self.owners.append(identity_id)
            self.written.append(0)
        self.slots[identity_id] = slot
        return slot

    def _grow(self) -> None:
        rows = np.zeros((2 * len(self.rows), self.dims))
        rows[: len(self.rows)] = self.rows
        filled = np.zeros(2 * len(self.filled), dtype=bool)
        filled[: len(self.filled)] = self.filled
        self.rows, self.filled = rows, filled


class SignatureIndex:
    """The latest `per_identity` signatures of every identity, for nearest-identity search."""

    def __init__(self, per_identity: int) -> None:
        self._per_identity = per_identity
        self._matrices: dict[tuple[str, int], _Matrix] = {}

    def add(self, identity_id: str, signature: Signature) -> None:
        """One more signature of the identity (replacing its oldest when it has them all)."""
        key = (signature.model, len(signature.values))
        matrix = self._matrices.get(key)
        if matrix is None:
            matrix = self._matrices[key] = _Matrix(len(signature.values), self._per_identity)
        matrix.add(identity_id, _unit(signature))

    def remove(self, identity_id: str) -> None:
        for matrix in self._matrices.values():
            matrix.remove(identity_id)

    def nearest(
        self, signature: Signature, *, exclude: Collection[str] = ()
    ) -> tuple[str, float] | None:
        """The identity with the signature closest to this one (cosine distance), if any."""
        matrix = self._matrices.get((signature.model, len(signature.values)))
        if matrix is None:
            return None
        return matrix.nearest(_unit(signature), exclude)


def _unit(signature: Signature) -> np.ndarray:
    """The signature as a unit vector (a zero vector stays zero: distance 1 to everything)."""
    vector = np.asarray(signature.values, dtype=np.float64)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector
