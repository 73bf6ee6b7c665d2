"""Alarms: which alerts of each camera are active now. A small state machine, pure.

An alert (an event of one of the `kinds`, `overlay.alarm_events`) is active from the moment it
is observed until
- an `alert.acknowledged` event names it (`data.alert_id`), or
- its face has left (a `face.left` of the same person: the same identity, or the same track
  when the alert has no identity) and `hold_s` has passed since.
A later event never replaces an active alert: a second alert is active beside the first, and
the one the screens show is the most severe (the first of `kinds`), the newest among equals.
A grey "face left" of someone else changes nothing.

Times are monotonic seconds given by the caller; nothing here reads a clock, waits or draws,
so the rules are tested without a browser (tests/test_alarm.py). The scene board holds one
`Alarms` and feeds it every event it publishes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event

# A camera whose faces never leave (face.left silenced in its rules) would collect alarms for
# ever: past this many, its least severe, oldest one goes.
MAX_ACTIVE_PER_CAMERA: Final = 50


@dataclass(frozen=True, slots=True)
class Alarm:
    alert: Event
    rank: int  # the alert's kind's place in `kinds`: 0 is the most severe
    raised_s: float  # when it was observed (monotonic)
    left_s: float | None = None  # when its face left (monotonic); None: still in view

    @property
    def camera(self) -> str:
        return self.alert.camera

    @property
    def kind(self) -> EventKind:
        return self.alert.kind

    def ends_s(self, hold_s: float) -> float | None:
        """When it ends by itself (monotonic), or None while its face is in view."""
        return None if self.left_s is None else self.left_s + hold_s


def alert_id_of(acknowledgement: Event) -> str | None:
    """The id of the alert an `alert.acknowledged` event acknowledges."""
    alert_id = acknowledgement.data.get("alert_id")
    return alert_id if isinstance(alert_id, str) else None


class Alarms:
    """The active alarms of every camera, as the events observed so far make them."""

    def __init__(self, kinds: Sequence[EventKind], *, hold_s: float) -> None:
        if hold_s < 0:
            raise ValueError(f"hold_s must not be negative, got {hold_s}")
        self._ranks = {kind: rank for rank, kind in enumerate(dict.fromkeys(kinds))}
        self._hold_s = hold_s
        self._active: dict[str, Alarm] = {}  # by alert id, oldest first

    @property
    def kinds(self) -> tuple[EventKind, ...]:
        return tuple(self._ranks)

    def is_alert(self, event: Event) -> bool:
        return event.kind in self._ranks

    def observe(self, event: Event, now_s: float) -> bool:
        """Take one event into account; whether the active alarms changed."""
        changed = self._expire(now_s)
        kind = event.kind
        if kind in self._ranks:
            if event.id not in self._active:
                self._active[event.id] = Alarm(event, self._ranks[kind], now_s)
                self._bound(event.camera)
                changed = True
        elif kind is EventKind.FACE_LEFT:
            person = _person(event)
            for alert_id, alarm in list(self._active.items()):
                if (
                    alarm.left_s is None
                    and alarm.camera == event.camera
                    and (_person(alarm.alert) == person)
                ):
                    self._active[alert_id] = replace(alarm, left_s=now_s)
                    changed = True
            changed |= self._expire(now_s)  # with no hold, it ends at once
        elif kind is EventKind.ALERT_ACKNOWLEDGED:
            acknowledged = alert_id_of(event)
            if acknowledged is not None and self._active.pop(acknowledged, None) is not None:
                changed = True
        return changed

    def get(self, alert_id: str, now_s: float) -> Alarm | None:
        """The alarm of this alert while it is active."""
        alarm = self._active.get(alert_id)
        return alarm if alarm is not None and self._alive(alarm, now_s) else None

    def active(self, camera: str, now_s: float) -> tuple[Alarm, ...]:
        """The camera's active alarms, the one to show first: most severe, then newest."""
        alarms = [a for a in self._active.values() if a.camera == camera and self._alive(a, now_s)]
        return tuple(sorted(alarms, key=lambda a: (a.rank, -a.raised_s)))

    def showing(self, camera: str, now_s: float) -> Alarm | None:
        """The alarm the camera's screens show now, or None: all is well."""
        active = self.active(camera, now_s)
        return active[0] if active else None

    def next_end_s(self) -> float | None:
        """The next moment (monotonic) an alarm ends by itself, if one is due to."""
        ends = [e for a in self._active.values() if (e := a.ends_s(self._hold_s)) is not None]
        return min(ends, default=None)

    def _alive(self, alarm: Alarm, now_s: float) -> bool:
        ends_s = alarm.ends_s(self._hold_s)
        return ends_s is None or now_s < ends_s

    def _expire(self, now_s: float) -> bool:
        ended = [i for i, alarm in self._active.items() if not self._alive(alarm, now_s)]
        for alert_id in ended:
            del self._active[alert_id]
        return bool(ended)

    def _bound(self, camera: str) -> None:
        mine = [a for a in self._active.values() if a.camera == camera]
        if len(mine) > MAX_ACTIVE_PER_CAMERA:
            least = max(mine, key=lambda a: (a.rank, -a.raised_s))
            del self._active[least.alert.id]


def _person(event: Event) -> tuple[str, str | None]:
    """Who an event is about: the identity when known (it outlives a lost-and-refound track),
    else the track."""
    identity = event.data.get("identity_id")
    if isinstance(identity, str):
        return ("identity", identity)
    return ("track", event.subject)
