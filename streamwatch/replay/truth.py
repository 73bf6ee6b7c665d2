"""Ground truth for a replay (who was in view when, with which mask) and its recall/precision.

The file (JSON) lists the stretches of the recording in which a person's face is in view:

    {"visits": [
        {"person": "anne", "enter_s": 5.99, "leave_s": 11.07, "mask": 1},
        {"person": "bob",  "enter_s": 21.1, "leave_s": 28.4,  "mask": "none"}
    ]}

- `enter_s`, `leave_s`: seconds of media time (`start_s`, `end_s` are read too, and the list
  may be called `segments`);
- `person`: a name for the report (optional);
- `mask` (optional): 0 or "none" (no mask: a face.maskless is expected), 1 or "worn" (no mask
  alert is expected), 2 or "incorrect" (a face.mask_incorrect is expected); absent: unknown.
- `face_height_px` (optional, here or at the top): the face's height, or [smallest, largest].
Other keys are ignored. A person who comes back is a second visit.

A clip may instead be described as a whole — ../shared/media's truth files load as they are:

    {"people": 3, "faces_visible": [[0, 3.42]], "face_height_px": [45, 65], "mask": 0}

each of `people` (a count, or names) is in view during each [from_s, to_s] of
`faces_visible` (empty: no face at any time); a file with only `empty` stretches has no
visit.

Scores, each event matched to at most one visit and each visit to at most one event, an event
counting for a visit when its frame lies in the visit (give or take `TOLERANCE_S`, the truth's
own precision):
- people: recall = visits announced (face.new or face.returned) / visits; precision = such
  events that announced a visit / such events (a second announcement of a visit is wrong);
- masks: for face.maskless, recall over the maskless visits, precision over the alerts (an
  alert during a masked visit or with nobody in view is wrong; during a visit of unknown mask
  it is not judged); the same for face.mask_incorrect.
Only visits over by the replay's end are judged: one still in view then, or later, is left out
(and counted apart), and so are the events during it; so is a visit whose face never reaches
the camera's `min_face_px` (no face event is expected of it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamwatch.analysis.model import Mask
from streamwatch.events.kind import EventKind
from streamwatch.replay.events import EventRecord
from streamwatch.replay.recording import ReplayError

TOLERANCE_S = 0.5
ARRIVALS = (EventKind.FACE_NEW, EventKind.FACE_RETURNED)
MASK_ALERTS = {Mask.NONE: EventKind.FACE_MASKLESS, Mask.INCORRECT: EventKind.FACE_MASK_INCORRECT}
_MASK_WORDS = {"none": Mask.NONE, "worn": Mask.WORN, "incorrect": Mask.INCORRECT}


@dataclass(frozen=True, slots=True)
class Visit:
    person: str
    enter_s: float
    leave_s: float
    mask: Mask | None
    face_px: float | None = None  # the largest height the face reaches (None: not said)

    def too_small(self, min_face_px: float) -> bool:
        """Whether the face never reaches the size that makes face events."""
        return self.face_px is not None and self.face_px < min_face_px

    def covers(self, media_s: float) -> bool:
        return self.enter_s - TOLERANCE_S <= media_s <= self.leave_s + TOLERANCE_S


@dataclass(frozen=True, slots=True)
class Score:
    expected: int  # visits that should have the event
    found: int  # of them, matched by an event
    events: int  # events judged
    right: int  # of them, matched to a visit

    @property
    def recall(self) -> float | None:
        return self.found / self.expected if self.expected else None

    @property
    def precision(self) -> float | None:
        return self.right / self.events if self.events else None


@dataclass(frozen=True, slots=True)
class VisitResult:
    visit: Visit
    announced_s: float | None  # media time of the event that announced it
    alerted_s: float | None  # of the mask alert matched to it


@dataclass(frozen=True, slots=True)
class TruthScore:
    people: Score
    masks: dict[str, Score]  # by alert kind, for the kinds the truth expects or got
    visits: tuple[VisitResult, ...]  # the visits judged
    visits_left_out: int  # still in view at the replay's end, or later, or too small


def load_truth(path: Path) -> tuple[Visit, ...]:
    """The visits of a truth file; ReplayError with the expected format when it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ReplayError(f"--truth {path}: cannot read it: {error.strerror}") from None
    except ValueError as error:
        raise ReplayError(f"--truth {path}: not JSON ({error})") from None
    if isinstance(document, dict) and "visits" not in document and "segments" not in document:
        if "faces_visible" in document:
            return _whole_clip_visits(document, path)
        if "empty" in document:
            return ()  # nobody's face in view at any time
    entries = (
        document.get("visits", document.get("segments")) if isinstance(document, dict) else None
    )
    if not isinstance(entries, list):
        raise ReplayError(
            f'--truth {path}: expected {{"visits": [{{"person": …, "enter_s": …, "leave_s": …, '
            '"mask": 0|1}, …]} or {"people": N, "faces_visible": [[from_s, to_s], …], '
            '"mask": 0|1} (see streamwatch/replay/truth.py)'
        )
    face_px = _face_px(document.get("face_height_px"), f"--truth {path}")
    return tuple(_visit(entry, index, path, face_px) for index, entry in enumerate(entries))


def _whole_clip_visits(document: dict[str, Any], path: Path) -> tuple[Visit, ...]:
    """The people of a clip that describes them as a whole: each of them in view during each
    stretch of `faces_visible`, with the clip's `mask` and `face_height_px`."""
    where = f"--truth {path}"
    spans = document["faces_visible"]
    if not isinstance(spans, list) or not all(
        isinstance(span, list) and len(span) == 2 for span in spans
    ):
        raise ReplayError(f"{where}: faces_visible must be a list of [from_s, to_s] pairs")
    people = document.get("people", 1)
    if isinstance(people, dict | list):
        names = [str(name) for name in people]
    elif isinstance(people, int) and not isinstance(people, bool) and people >= 0:
        names = [f"person {n + 1}" for n in range(people)]
    else:
        raise ReplayError(f"{where}: people must be a count, a list of names or an object")
    mask = _mask(document.get("mask"), where)
    face_px = _face_px(document.get("face_height_px"), where)
    visits = []
    for enter, leave in spans:
        enter_s, leave_s = _seconds(enter, where), _seconds(leave, where)
        if not 0 <= enter_s <= leave_s:
            raise ReplayError(f"{where}: needs 0 <= from_s <= to_s, got {enter_s} and {leave_s}")
        visits += [Visit(name, enter_s, leave_s, mask, face_px) for name in names]
    return tuple(visits)


def _face_px(value: Any, where: str) -> float | None:
    """The largest face height of `face_height_px` (a number or a [smallest, largest] pair)."""
    if value is None:
        return None
    sizes = value if isinstance(value, list) else [value]
    if not sizes or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in sizes):
        raise ReplayError(f"{where}: face_height_px must be a number or [smallest, largest]")
    return float(max(sizes))


def _visit(entry: Any, index: int, path: Path, face_px: float | None) -> Visit:
    where = f"--truth {path}: visit {index + 1}"
    if not isinstance(entry, dict):
        raise ReplayError(f"{where}: expected an object with enter_s and leave_s")
    enter_s = _seconds(entry.get("enter_s", entry.get("start_s")), where)
    leave_s = _seconds(entry.get("leave_s", entry.get("end_s")), where)
    if not 0 <= enter_s <= leave_s:
        raise ReplayError(f"{where}: needs 0 <= enter_s <= leave_s, got {enter_s} and {leave_s}")
    person = str(entry.get("person", f"visit {index + 1}"))
    face_px = _face_px(entry.get("face_height_px"), where) or face_px
    return Visit(person, enter_s, leave_s, _mask(entry.get("mask"), where), face_px)


def _seconds(value: Any, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ReplayError(f"{where}: enter_s and leave_s must be numbers of seconds")
    return float(value)


def _mask(value: Any, where: str) -> Mask | None:
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in _MASK_WORDS:
        return _MASK_WORDS[value.lower()]
    if isinstance(value, int) and not isinstance(value, bool) and value in {int(m) for m in Mask}:
        return Mask(value)
    raise ReplayError(
        f'{where}: mask must be 0 or "none", 1 or "worn", 2 or "incorrect"; got {value!r}'
    )


def score(
    visits: Sequence[Visit],
    events: Sequence[EventRecord],
    end_s: float,
    min_face_px: float = 0.0,
) -> TruthScore:
    """How the replay's events (up to media time `end_s`) compare with the visits; a visit
    whose face never reaches `min_face_px` is not judged (no face event is expected)."""
    judged = [
        visit for visit in visits if visit.leave_s <= end_s and not visit.too_small(min_face_px)
    ]
    people, announced = _match(
        judged, range(len(judged)), _times(events, ARRIVALS, visits, lambda v: v in judged)
    )
    masks: dict[str, Score] = {}
    alerted: dict[int, float] = {}
    for mask, kind in MASK_ALERTS.items():
        expected = [i for i, visit in enumerate(judged) if visit.mask is mask]
        times = _times(events, (kind,), visits, lambda v: v in judged and v.mask is not None)
        if expected or times:
            masks[kind], matched = _match(judged, expected, times)
            alerted |= matched
    results = tuple(
        VisitResult(visit, announced.get(i), alerted.get(i)) for i, visit in enumerate(judged)
    )
    return TruthScore(people, masks, results, len(visits) - len(judged))


def _times(
    events: Iterable[EventRecord],
    kinds: Sequence[str],
    visits: Sequence[Visit],
    judging: Callable[[Visit], bool],
) -> list[float]:
    """The times of the events of `kinds` that can be judged: with nobody in view (wrong), or
    with someone in view whose visit is `judging`."""
    times = []
    for event in events:
        if event.kind not in kinds or event.media_s is None:
            continue
        present = [visit for visit in visits if visit.covers(event.media_s)]
        if not present or any(judging(visit) for visit in present):
            times.append(event.media_s)
    return sorted(times)


def _match(
    visits: Sequence[Visit], expected: Iterable[int], times: Sequence[float]
) -> tuple[Score, dict[int, float]]:
    """Each event, in time order, to the earliest-entered expected visit it lies in and that
    no event matched yet; returns the score and the time matched to each visit (by index)."""
    candidates = list(expected)
    matched: dict[int, float] = {}
    for media_s in times:
        open_visits = [i for i in candidates if i not in matched and visits[i].covers(media_s)]
        if open_visits:
            matched[min(open_visits, key=lambda i: visits[i].enter_s)] = media_s
    return Score(len(candidates), len(matched), len(times), len(matched)), matched
