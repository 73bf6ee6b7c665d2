"""The dispatcher: every event to every sink, in order, retried until it is delivered.

One queue and one worker task per sink, so a slow or dead webhook never delays the others.
A retryable failure is retried with exponential back-off and full jitter, keeping the order;
a permanent one (HTTP 400: the receiver refuses this event) is logged and counted.
(Events in these queues live in memory: the durable SQLite outbox replaces them later.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from streamwatch.delivery.sinks import DeliveryError, Sink
from streamwatch.events.model import Event

log = logging.getLogger("streamwatch.delivery")


@dataclass
class SinkCounters:
    delivered: int = 0
    retried: int = 0
    rejected: int = 0
    pending: int = 0
    last_error: str | None = None


@dataclass
class _SinkLane:
    sink: Sink
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    counters: SinkCounters = field(default_factory=SinkCounters)
    worker: asyncio.Task[None] | None = None


class Dispatcher:
    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 60.0,
        drain_timeout_s: float = 5.0,
    ) -> None:
        self._lanes = [_SinkLane(sink) for sink in sinks]
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._drain_timeout_s = drain_timeout_s

    @property
    def counters(self) -> dict[str, SinkCounters]:
        return {lane.sink.name: lane.counters for lane in self._lanes}

    def submit(self, event: Event) -> None:
        for lane in self._lanes:
            lane.queue.put_nowait(event)
            lane.counters.pending += 1

    async def __aenter__(self) -> Dispatcher:
        for lane in self._lanes:
            lane.worker = asyncio.create_task(self._work(lane), name=f"sink {lane.sink.name}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Give pending events a bounded time to go out, then stop the workers."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._drain_timeout_s):
                await asyncio.gather(*(lane.queue.join() for lane in self._lanes))
        for lane in self._lanes:
            if lane.worker is not None:
                lane.worker.cancel()
        await asyncio.gather(
            *(lane.worker for lane in self._lanes if lane.worker), return_exceptions=True
        )
        for lane in self._lanes:
            if lane.counters.pending:
                log.warning("%s: %d events not delivered", lane.sink.name, lane.counters.pending)
            await lane.sink.close()

    async def _work(self, lane: _SinkLane) -> None:
        while True:
            event = await lane.queue.get()
            await self._deliver_until_done(lane, event)
            lane.counters.pending -= 1
            lane.queue.task_done()

    async def _deliver_until_done(self, lane: _SinkLane, event: Event) -> None:
        backoff_s = self._retry_initial_s
        while True:
            try:
                await lane.sink.deliver(event)
            except DeliveryError as error:
                lane.counters.last_error = str(error)
                if not error.retryable:
                    lane.counters.rejected += 1
                    log.error("%s refused event %s: %s", lane.sink.name, event.id, error)
                    return
                lane.counters.retried += 1
                delay_s = random.uniform(0, backoff_s)
                log.warning("%s; retrying event %s in %.1f s", error, event.id, delay_s)
                await asyncio.sleep(delay_s)
                backoff_s = min(backoff_s * 2, self._retry_max_s)
            else:
                lane.counters.delivered += 1
                lane.counters.last_error = None
                return
