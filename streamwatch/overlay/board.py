"""SceneBoard: where the pipeline hands its latest scenes and events to the viewers.

The board keeps only the newest scene per camera (freshness over completeness: a viewer that
falls behind skips to the newest picture, it never replays a backlog) and fans events out to
subscribers through small bounded queues, so no viewer can slow the pipeline down.
Everything runs on the event loop thread; waiting is done with asyncio primitives, never by
polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from streamwatch.events.model import Event
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
        self, cameras: Sequence[str], *, event_queue_size: int = DEFAULT_EVENT_QUEUE_SIZE
    ) -> None:
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
        """The newest scene of `camera`, None before the first one."""
        return self._latest[self._known(camera)]

    def snapshot(self, cameras: Sequence[str]) -> Snapshot:
        known = [self._known(camera) for camera in cameras]
        return Snapshot(
            version=sum(self._published[camera] for camera in known),
            scenes=tuple(self._latest[camera] for camera in known),
        )

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
        """Give `event` to every open subscription; never waits."""
        asyncio.get_running_loop()
        for subscription in self._subscriptions:
            subscription._offer(event)

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
