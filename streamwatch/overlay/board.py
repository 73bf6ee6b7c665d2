"""SceneBoard: where the pipeline hands its latest scenes and events to the viewers.

The board keeps only the newest scene per camera (freshness over completeness: a viewer that
falls behind skips to the newest picture, it never replays a backlog) and fans events out to
subscribers through small bounded queues, so no viewer can slow the pipeline down.

It also holds the cameras' alarms (overlay.alarm): every event published goes through them, so
an alert becomes an active alarm, and its acknowledgement (an event too) or its face leaving
for `alarm_hold_s` ends it. The scenes handed out carry the alarms as they are at that moment,
on the board's clock (the pipeline's: a replay's own time). A change of alarms counts as a
new scene of its camera, so every view draws it at once.

Everything runs on the event loop thread; waiting is done with asyncio primitives, never by
polling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from streamwatch.clock import SYSTEM_CLOCK, Clock
from streamwatch.events.model import Event
from streamwatch.overlay.alarm import Alarm, Alarms
from streamwatch.overlay.scene import Scene

DEFAULT_EVENT_QUEUE_SIZE = 100


class EventSubscription:
    """The events published while the subscription is open, oldest first.

    When the subscriber falls more than `max_queued` events behind, the oldest are dropped
    (and counted in `dropped_events`) rather than making the publisher wait.
    """

    def __init__(self, max_queued: int) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=max_queued)
        self._dropped_events = 0

    @property
    def dropped_events(self) -> int:
        return self._dropped_events

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> Event:
        # A plain queue get (not an async generator) so a caller may cancel a pending
        # `anext()` — e.g. on a keep-alive timeout — and keep iterating afterwards.
        return await self._queue.get()

    def _offer(self, event: Event) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self._dropped_events += 1
        self._queue.put_nowait(event)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The latest scenes of some cameras, and a version that changes when any of them does."""

    version: int
    scenes: tuple[Scene | None, ...]  # in the order the cameras were asked for


class SceneBoard:
    """The latest scene of each camera, and a fan-out of events, for any number of viewers."""

    def __init__(
        self,
        cameras: Sequence[str],
        *,
        event_queue_size: int = DEFAULT_EVENT_QUEUE_SIZE,
        alarms: Alarms | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """`alarms`: the alarm rules (None: no event is an alarm)."""
        if not cameras:
            raise ValueError("a SceneBoard needs at least one camera")
        duplicates = sorted({name for name in cameras if list(cameras).count(name) > 1})
        if duplicates:
            raise ValueError(f"camera names must be unique; repeated: {', '.join(duplicates)}")
        if event_queue_size < 1:
            raise ValueError(f"event_queue_size must be at least 1, got {event_queue_size}")
        self._cameras = tuple(cameras)
        self._latest: dict[str, Scene | None] = dict.fromkeys(self._cameras)
        # Scenes published per camera. Their sum over a set of cameras only grows, so "a
        # different version" means "newer" even when a restarted reader counts frames from 0.
        self._published: dict[str, int] = dict.fromkeys(self._cameras, 0)
        # Replaced on every publish: setting the old one wakes everyone waiting for a change;
        # each checks whether it is a change of its cameras (viewers are few, scenes many).
        self._changed = asyncio.Event()
        self._event_queue_size = event_queue_size
        self._subscriptions: set[EventSubscription] = set()
        self._alarms = alarms or Alarms((), hold_s=0.0)
        self._clock = clock
        self._alarms_changed = asyncio.Event()  # replaced on every change, as _changed

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def alarm_rules(self) -> Alarms:
        return self._alarms

    @property
    def cameras(self) -> tuple[str, ...]:
        return self._cameras

    def publish(self, scene: Scene) -> None:
        """Make `scene` the latest of its camera and wake everyone waiting for it.

        Must be called on the event loop thread (asyncio primitives are not thread-safe).
        """
        asyncio.get_running_loop()  # fails fast when called from a capture thread
        camera = self._known(scene.frame.camera)
        self._latest[camera] = scene
        self._published[camera] += 1
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()

    def latest(self, camera: str) -> Scene | None:
        """The newest scene of `camera` with its alarms as they are now; None before the
        first one."""
        return self._with_alarms(self._latest[self._known(camera)], self._clock.monotonic_s())

    def snapshot(self, cameras: Sequence[str]) -> Snapshot:
        known = [self._known(camera) for camera in cameras]
        now_s = self._clock.monotonic_s()
        return Snapshot(
            version=sum(self._published[camera] for camera in known),
            scenes=tuple(self._with_alarms(self._latest[camera], now_s) for camera in known),
        )

    def alarms(self, camera: str) -> tuple[Alarm, ...]:
        """The camera's active alarms now, the one to show first."""
        return self._alarms.active(self._known(camera), self._clock.monotonic_s())

    def alarm(self, alert_id: str) -> Alarm | None:
        """The alarm of this alert, while it is active."""
        return self._alarms.get(alert_id, self._clock.monotonic_s())

    async def alarms_change(self) -> None:
        """Until the alarms change: an alert, an acknowledgement, a face leaving, or an alarm's
        hold running out (on the board's clock). Look at the alarms first, then await this:
        nothing between the two can be missed, both run on the loop."""
        changed = self._alarms_changed
        end_s = self._alarms.next_end_s()
        if end_s is None:
            await changed.wait()
            return
        with contextlib.suppress(TimeoutError):
            async with self._clock.timeout_at(end_s):
                await changed.wait()

    def _with_alarms(self, scene: Scene | None, now_s: float) -> Scene | None:
        if scene is None:
            return None
        alarms = self._alarms.active(scene.frame.camera, now_s)
        return replace(scene, alarms=alarms) if alarms or scene.alarms else scene

    async def next_snapshot(self, cameras: Sequence[str], after_version: int | None) -> Snapshot:
        """The latest scenes of `cameras` once their version is not `after_version`.

        Returns at once when it already differs (None: any version), else waits for the next
        publish of one of them. Never returns before at least one of them has a scene.
        """
        while True:
            snapshot = self.snapshot(cameras)
            if snapshot.version != after_version and snapshot.version > 0:
                return snapshot
            await self._changed.wait()

    def publish_event(self, event: Event) -> None:
        """Give `event` to every open subscription and to the alarms; never waits."""
        asyncio.get_running_loop()
        for subscription in self._subscriptions:
            subscription._offer(event)
        if event.camera in self._latest and self._alarms.observe(event, self._clock.monotonic_s()):
            if self._latest[event.camera] is not None:
                # A new picture of the camera as far as the views go: drawn again at once.
                self._published[event.camera] += 1
                woken, self._changed = self._changed, asyncio.Event()
                woken.set()
            alarmed, self._alarms_changed = self._alarms_changed, asyncio.Event()
            alarmed.set()

    @asynccontextmanager
    async def subscribe_events(self) -> AsyncIterator[EventSubscription]:
        """`async with board.subscribe_events() as events: async for event in events: ...`"""
        subscription = EventSubscription(self._event_queue_size)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def _known(self, camera: str) -> str:
        if camera not in self._latest:
            raise KeyError(f"unknown camera {camera!r}; this board has: {', '.join(self._cameras)}")
        return camera
