"""The dispatcher: every event into the outbox, then out to every sink, in order, until delivered.

`submit` commits the event to the outbox before returning (well under a millisecond here,
see bench/delivery.py), so the pipeline calls it synchronously and nothing it hands over can
be lost afterwards. One worker task per sink then walks the outbox from that sink's cursor, one
event at a time, so a sink gets events in the order they were made (per camera, and overall)
and a slow or dead sink never delays the others.

A retryable failure is tried again after exponential back-off with full jitter (or the
receiver's Retry-After, if longer), with the same event id; a refusal makes the event a dead
letter and the sink moves on. A worker also looks at the outbox every `poll_s` when idle:
`streamwatch outbox retry` may have queued dead letters from another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime

from streamwatch.backoff import Backoff
from streamwatch.delivery.outbox import Outbox, OutboxError, Pending
from streamwatch.delivery.sinks import DeliveryError, Sink
from streamwatch.events.model import Event
from streamwatch.histogram import HistogramRecorder

log = logging.getLogger("streamwatch.delivery")

# A receiver asking for more than this is more likely broken than busy.
MAX_RETRY_AFTER_S = 3600.0


@dataclass
class SinkCounters:
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    last_error: str | None = None
    # Event decided → sink acknowledged, seconds (retries and outages included).
    latency: HistogramRecorder = field(default_factory=HistogramRecorder)


@dataclass
class _Lane:
    sink: Sink
    backoff: Backoff
    counters: SinkCounters = field(default_factory=SinkCounters)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    idle: bool = False  # found nothing to do at its last look
    worker: asyncio.Task[None] | None = None


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        sinks: Sequence[Sink],
        *,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 60.0,
        poll_s: float = 1.0,
        drain_timeout_s: float = 5.0,
    ) -> None:
        self.outbox = outbox
        self._lanes = [_Lane(sink, Backoff(retry_initial_s, retry_max_s)) for sink in sinks]
        self._poll_s = poll_s
        self._drain_timeout_s = drain_timeout_s
        self._sinks = AsyncExitStack()
        self._changed = asyncio.Event()

    @property
    def counters(self) -> dict[str, SinkCounters]:
        return {lane.sink.name: lane.counters for lane in self._lanes}

    def pending(self, sink: str) -> int:
        """Events the sink has still to get (from the outbox)."""
        lane = next(lane for lane in self._lanes if lane.sink.name == sink)
        return self.outbox.pending_count(sink, lane.sink.accepts)

    def submit(self, event: Event) -> None:
        """Commit the event to the outbox; the sinks get it from there."""
        if not self._lanes:
            return
        self.outbox.append(event)
        for lane in self._lanes:
            lane.idle = False
            lane.wake.set()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Until `condition()` holds; it is checked after each delivery attempt of any sink."""
        while not condition():
            await self._changed.wait()

    async def __aenter__(self) -> Dispatcher:
        self.outbox.attach([lane.sink.name for lane in self._lanes])
        try:
            for lane in self._lanes:
                await self._sinks.enter_async_context(lane.sink)
        except BaseException:
            await self._sinks.aclose()
            raise
        for lane in self._lanes:
            lane.worker = asyncio.create_task(self._work(lane), name=f"deliver {lane.sink.name}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Give pending events a bounded time to go out; the rest wait in the outbox."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._drain_timeout_s):
                await self.wait_until(lambda: all(lane.idle for lane in self._lanes))
        workers = [lane.worker for lane in self._lanes if lane.worker is not None]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for lane in self._lanes:
            with contextlib.suppress(OutboxError):
                if pending := self.pending(lane.sink.name):
                    log.warning(
                        "%s: %d events not delivered yet; they stay in %s for the next start",
                        lane.sink.name,
                        pending,
                        self.outbox.path,
                    )
        await self._sinks.aclose()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _work(self, lane: _Lane) -> None:
        name = lane.sink.name
        while True:
            try:
                batch = self.outbox.pending(name)
                if not batch:
                    lane.idle = True
                    self._notify()
                    await self._sleep_until_woken(lane)
                    continue
                passed = None  # the last event skipped since the last acknowledgement
                for pending in batch:
                    if pending.is_for(name) and lane.sink.accepts(pending.event.type):
                        await self._deliver(lane, pending)
                        passed = None
                    else:
                        passed = pending.seq
                if passed is not None:
                    self.outbox.acknowledge(name, passed)
            except Exception as error:
                # The outbox unusable (disk full), or a sink's bug: the event stays in the
                # outbox and is tried again, rather than this sink stopping for good. An
                # unexpected error's text may quote a url: only its kind, but for debugging.
                known = isinstance(error, OutboxError)
                lane.counters.last_error = str(error) if known else type(error).__name__
                log.error("%s: %s", name, lane.counters.last_error)
                log.debug("%s: the failure", name, exc_info=not known)
                await asyncio.sleep(lane.backoff.next_delay_s())

    async def _sleep_until_woken(self, lane: _Lane) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll_s):
                await lane.wake.wait()
        lane.wake.clear()

    async def _deliver(self, lane: _Lane, pending: Pending) -> None:
        """Deliver one event, retrying while it may succeed; then move the sink past it."""
        sink, event, counters = lane.sink, pending.event, lane.counters
        while True:
            try:
                await sink.deliver(event)
            except DeliveryError as error:
                counters.last_error = str(error)
                if not error.retryable:
                    self.outbox.dead_letter(sink.name, pending, str(error))
                    counters.dead_lettered += 1
                    log.error("%s refused event %s: kept as a dead letter", error, event.id)
                    self._notify()
                    return
                counters.retried += 1
                delay_s = lane.backoff.next_delay_s()
                if error.retry_after_s is not None:
                    delay_s = max(delay_s, min(error.retry_after_s, MAX_RETRY_AFTER_S))
                log.warning("%s; event %s again in %.1f s", error, event.id, delay_s)
                self._notify()
                await asyncio.sleep(delay_s)
            else:
                self.outbox.acknowledge(sink.name, pending.seq)
                counters.delivered += 1
                counters.latency.observe((datetime.now(UTC) - event.time).total_seconds())
                counters.last_error = None
                lane.backoff.reset()
                self._notify()
                return
