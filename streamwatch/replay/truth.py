"""Ground truth for a replay (who was in view when, with which mask) and its recall/precision.

The file (JSON) lists the stretches of the recording in which a person's face is in view:

    {"visits": [
        {"person": "anne", "enter_s": 5.99, "leave_s": 11.07, "mask": 1},
        {"person": "bob",  "enter_s": 21.1, "leave_s": 28.4,  "mask": "none"}
    ]}

- `enter_s`, `leave_s`: seconds of media time (`start_s`, `end_s` are read too, and the list
  may be called `segments`: ../shared/media's truth files load as they are);
- `person`: a name for the report (optional);
- `mask` (optional): 0 or "none" (no mask: a face.maskless is expected), 1 or "worn" (no mask
  alert is expected), 2 or "incorrect" (a face.mask_incorrect is expected); absent: unknown.
Other keys are ignored. A person who comes back is a second visit.

Scores, each event matched to at most one visit and each visit to at most one event, an event
counting for a visit when its frame lies in the visit (give or take `TOLERANCE_S`, the truth's
own precision):
- people: recall = visits announced (face.new or face.returned) / visits; precision = such
  events that announced a visit / such events (a second announcement of a visit is wrong);
- masks: for face.maskless, recall over the maskless visits, precision over the alerts (an
  alert during a masked visit or with nobody in view is wrong; during a visit of unknown mask
  it is not judged); the same for face.mask_incorrect.
Only visits over by the replay's end are judged: one still in view then, or later, is left out
(and counted apart), and so are the events during it.
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
    visits_left_out: int  # still in view at the replay's end, or later


def load_truth(path: Path) -> tuple[Visit, ...]:
    """The visits of a truth file; ReplayError with the expected format when it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ReplayError(f"--truth {path}: cannot read it: {error.strerror}") from None
    except ValueError as error:
        raise ReplayError(f"--truth {path}: not JSON ({error})") from None
    entries = (
        document.get("visits", document.get("segments")) if isinstance(document, dict) else None
    )
    if not isinstance(entries, list):
        raise ReplayError(
            f'--truth {path}: expected {{"visits": [{{"person": …, "enter_s": …, "leave_s": …, '
            '"mask": 0|1}, …]} (see streamwatch/replay/truth.py)'
        )
    return tuple(_visit(entry, index, path) for index, entry in enumerate(entries))


def _visit(entry: Any, index: int, path: Path) -> Visit:
    where = f"--truth {path}: visit {index + 1}"
    if not isinstance(entry, dict):
        raise ReplayError(f"{where}: expected an object with enter_s and leave_s")
    enter_s = _seconds(entry.get("enter_s", entry.get("start_s")), where)
    leave_s = _seconds(entry.get("leave_s", entry.get("end_s")), where)
    if not 0 <= enter_s <= leave_s:
        raise ReplayError(f"{where}: needs 0 <= enter_s <= leave_s, got {enter_s} and {leave_s}")
    person = str(entry.get("person", f"visit {index + 1}"))
    return Visit(person, enter_s, leave_s, _mask(entry.get("mask"), where))


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


def score(visits: Sequence[Visit], events: Sequence[EventRecord], end_s: float) -> TruthScore:
    """How the replay's events (up to media time `end_s`) compare with the visits."""
    judged = [visit for visit in visits if visit.leave_s <= end_s]
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
