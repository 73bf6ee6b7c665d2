"""Identity memory: "have we seen this face before?", answered on this machine only.

Each face that was announced leaves its appearance signature (an SFace embedding, see
analysis.model.Signature) here with the time it was last seen. A new track whose signature is
within `identity_max_distance` of one seen less than `forget_after_s` ago is that person
coming back. Signatures are never sent anywhere; with `identity_file` set they are kept in a
JSON file on this machine so that a restart does not make everyone new again.

Each identity also keeps the last answer that settled its mask state (`RememberedAnswer`,
in memory only, never in the file): a person who steps out of view and back within
`selection.reuse_answer_s` is described by it instead of a new paid call (app/pipeline.py).

The search is one matrix product over every identity's signatures (tracking.signatures).
Times are monotonic (the frames' clock): a step of the wall clock neither forgets everyone
nor keeps them forever. The file holds wall-clock times, the only ones a restart can use;
they are converted on the way in and out.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from streamwatch.analysis.model import Face, Signature
from streamwatch.clock import SYSTEM_CLOCK, Clock
from streamwatch.config.model import TrackingSettings
from streamwatch.tracking.signatures import SignatureIndex

log = logging.getLogger("streamwatch.tracking")

SIGNATURES_PER_IDENTITY = 5  # several views of a face match its next view better than one


@dataclass(frozen=True, slots=True)
class RememberedAnswer:
    """The last analysis of a face that settled its mask state, and who made it when."""

    face: Face
    analyzer: str
    answered_s: float  # monotonic, the analysed frame's


@dataclass
class Identity:
    identity_id: str
    last_seen_s: float  # monotonic (the frames' clock)
    last_track_id: str
    signatures: deque[Signature] = field(
        default_factory=lambda: deque(maxlen=SIGNATURES_PER_IDENTITY)
    )
    answer: RememberedAnswer | None = None


@dataclass(frozen=True, slots=True)
class Recognition:
    identity_id: str
    returned: bool  # seen before, within forget_after_s
    previous_track_id: str | None
    away_s: float | None


class IdentityMemory:
    def __init__(
        self, settings: TrackingSettings, path: Path | None = None, *, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        """`clock`: the frames' clock (a replay's media clock), to convert the file's times."""
        self._settings = settings
        self._path = path
        self._clock = clock
        self._identities: dict[str, Identity] = {}
        self._index = SignatureIndex(SIGNATURES_PER_IDENTITY)
        self._ids = itertools.count(1)
        self._newest_answer_s = -math.inf  # monotonic, of any identity's answer
        if path is not None and path.exists():
            self._load(path)

    def __len__(self) -> int:
        return len(self._identities)

    def recognise(
        self,
        track_id: str,
        signature: Signature | None,
        now_s: float,
        *,
        exclude: Collection[str] = (),
    ) -> Recognition:
        """Who this face is: a returning identity, or a new one remembered from now on.

        `exclude`: identities this face cannot be (they are in the same picture right now).
        `now_s`: monotonic, the frame's.
        """
        self._forget_before(now_s - self._settings.forget_after_s)
        match = None
        if signature is not None:
            nearest = self._index.nearest(signature, exclude=exclude)
            if nearest is not None and nearest[1] <= self._settings.identity_max_distance:
                match = self._identities[nearest[0]]
        if match is None:
            identity = Identity(f"id-{next(self._ids)}", now_s, track_id)
            self._identities[identity.identity_id] = identity
            if signature is not None:
                self._remember(identity, signature)
            return Recognition(identity.identity_id, False, None, None)
        # Not below 0: a time read back from the file may lie ahead of a clock set back.
        away_s = max(0.0, now_s - match.last_seen_s)
        previous = match.last_track_id
        match.last_track_id, match.last_seen_s = track_id, max(match.last_seen_s, now_s)
        if signature is not None:
            self._remember(match, signature)
        return Recognition(match.identity_id, True, previous, away_s)

    def recall(
        self,
        signature: Signature,
        now_s: float,
        *,
        max_age_s: float,
        exclude: Collection[str] = (),
    ) -> RememberedAnswer | None:
        """The remembered answer of the identity this signature is, when it is younger than
        `max_age_s` at now_s (monotonic). Only looks: `recognise` still decides who it is."""
        if not self.answered_since(now_s - max_age_s):
            return None
        nearest = self._index.nearest(signature, exclude=exclude)
        if nearest is None or nearest[1] > self._settings.identity_max_distance:
            return None
        answer = self._identities[nearest[0]].answer
        if answer is None or now_s - answer.answered_s > max_age_s:
            return None
        return answer

    def answered_since(self, oldest_s: float) -> bool:
        """Whether an answer may be remembered from oldest_s on (monotonic): a look that
        costs nothing before the signature a `recall` needs is computed. (True after the
        newest one's identity was forgotten too: `recall` then finds none.)"""
        return self._newest_answer_s >= oldest_s

    def answered(self, identity_id: str, answer: RememberedAnswer) -> None:
        """An answer settled this identity's mask state."""
        identity = self._identities.get(identity_id)
        if identity is not None:
            identity.answer = answer
            self._newest_answer_s = max(self._newest_answer_s, answer.answered_s)

    def seen(self, identity_id: str, signature: Signature | None, now_s: float) -> None:
        """The identity is still in view (or just left) at now_s (monotonic)."""
        identity = self._identities.get(identity_id)
        if identity is None:
            return
        identity.last_seen_s = max(identity.last_seen_s, now_s)
        if signature is not None and not identity.signatures:
            self._remember(identity, signature)

    def save(self) -> None:
        if self._path is None:
            return
        wall_minus_monotonic_s = self._clock.wall_s() - self._clock.monotonic_s()
        document = {
            "identities": [
                {
                    "identity_id": i.identity_id,
                    "last_seen_s": i.last_seen_s + wall_minus_monotonic_s,  # wall clock
                    "last_track_id": i.last_track_id,
                    "signatures": [{"model": s.model, "values": s.values} for s in i.signatures],
                }
                for i in self._identities.values()
            ]
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_suffix(".tmp")
        # Faces are personal data: readable by this service's user only.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(document, file)
        temporary.replace(self._path)

    def _load(self, path: Path) -> None:
        wall_minus_monotonic_s = self._clock.wall_s() - self._clock.monotonic_s()
        try:
            document = json.loads(path.read_text())
            for entry in document["identities"]:
                identity = Identity(
                    entry["identity_id"],
                    float(entry["last_seen_s"]) - wall_minus_monotonic_s,
                    entry["last_track_id"],
                )
                self._identities[identity.identity_id] = identity
                for signature in entry["signatures"]:
                    values = tuple(float(value) for value in signature["values"])
                    self._remember(identity, Signature(values, str(signature["model"])))
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("identity memory %s unreadable (%s): starting empty", path, error)
            for identity_id in self._identities:
                self._index.remove(identity_id)
            self._identities.clear()
            return
        numbers = [int(i.removeprefix("id-")) for i in self._identities if i[3:].isdigit()]
        self._ids = itertools.count(max(numbers, default=0) + 1)

    def _remember(self, identity: Identity, signature: Signature) -> None:
        identity.signatures.append(signature)  # the deque and the index drop the same oldest
        self._index.add(identity.identity_id, signature)

    def _forget_before(self, oldest_s: float) -> None:
        for identity_id in [i for i, v in self._identities.items() if v.last_seen_s < oldest_s]:
            del self._identities[identity_id]
            self._index.remove(identity_id)
