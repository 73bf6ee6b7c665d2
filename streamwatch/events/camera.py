"""Camera health → `camera.offline` / `camera.online`, debounced.

A camera that hiccups (one failed read, a reconnect that works at once) is not worth waking
anyone: `camera.offline` fires only once it has not streamed for `offline_after_s`, and
`camera.online` only after an offline was announced. A camera given up (capture/reader.py) is
announced at once: nothing is left to wait for.
"""

from __future__ import annotations

from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event
from streamwatch.events.payload import rfc3339


class CameraHealthRules:
    def __init__(self, *, node: str, camera: str, offline_after_s: float) -> None:
        self.node = node
        self.camera = camera
        self.offline_after_s = offline_after_s
        self._down_since_s: float | None = None  # monotonic
        self._down_since_wall_s: float | None = None
        self._offline_announced = False

    @property
    def offline(self) -> bool:
        return self._offline_announced

    def observe(
        self, *, streaming: bool, now_s: float, now_wall_s: float, state: str, reason: str | None
    ) -> list[Event]:
        """The events due now, given whether the camera streams (times: monotonic and wall)."""
        if streaming:
            events = []
            if self._offline_announced:
                assert self._down_since_s is not None
                events.append(
                    self._event(
                        EventKind.CAMERA_ONLINE,
                        offline_for_s=round(now_s - self._down_since_s, 2),
                        since=rfc3339(now_wall_s),
                    )
                )
            self._down_since_s = self._down_since_wall_s = None
            self._offline_announced = False
            return events
        if self._down_since_s is None:
            self._down_since_s, self._down_since_wall_s = now_s, now_wall_s
        if self._offline_announced or now_s - self._down_since_s < self.offline_after_s:
            return []
        return self._offline(state, reason)

    def gone(
        self, *, now_s: float, now_wall_s: float, state: str, reason: str | None
    ) -> list[Event]:
        """The camera was given up: camera.offline now, not after the debounce (it will not
        come back by itself), unless it was announced already."""
        if self._offline_announced:
            return []
        if self._down_since_s is None:
            self._down_since_s, self._down_since_wall_s = now_s, now_wall_s
        return self._offline(state, reason)

    def _offline(self, state: str, reason: str | None) -> list[Event]:
        self._offline_announced = True
        assert self._down_since_wall_s is not None
        return [
            self._event(
                EventKind.CAMERA_OFFLINE,
                state=state,
                reason=reason,
                since=rfc3339(self._down_since_wall_s),
            )
        ]

    def next_check_s(self) -> float | None:
        """When (monotonic) `observe` must run again if nothing changes before."""
        if self._down_since_s is None or self._offline_announced:
            return None
        return self._down_since_s + self.offline_after_s

    def _event(self, kind: EventKind, **data: object) -> Event:
        return Event.create(
            kind,
            node=self.node,
            camera=self.camera,
            subject=None,
            data={"camera": self.camera, **data},
        )
