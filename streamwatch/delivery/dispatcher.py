"""The dispatcher: every event into the outbox, then out to every sink, in order, until delivered.

`submit` commits the event to the outbox before it returns, so nothing the pipeline hands over
can be lost afterwards. The outbox blocks (an fsync per event; a wait behind another process's
write), so it runs on a thread of its own (OutboxThread) and `submit` awaits it there: the
event loop never waits for the disk, only the camera whose event it is does (well under a
millisecond on an idle disk, see bench/delivery.py).

A commit that fails (disk full, the file locked by another process for longer than the busy
time-out) is tried again after a short wait, a few times within a few seconds. An event that
still cannot be committed is counted as lost and logged as an error with its type and id, and
`submit` returns all the same: one event's failure never ends the camera that made it, and
the events committed before it are still delivered. `writes` counts both, for health and
metrics.

One worker task per sink then walks the outbox from that sink's cursor, one event at a time,
so a sink gets events in the order they were made (per camera, and overall) and a slow or dead
sink never delays the others. A retryable failure is tried again after exponential back-off
with full jitter (or the receiver's Retry-After, if longer), with the same event id; a refusal
makes the event a dead letter and the sink moves on. A worker also looks at the outbox every
`poll_s` when idle: `streamwatch outbox retry` may have queued dead letters from another
process.

How many events each sink has still to get is read from memory (`pending`): the outbox counts
them once at the start and keeps the counts as they change (streamwatch.delivery.pending_counts),
so /metrics, /healthz and the systemd status line never touch the file. Another process's
changes (`streamwatch outbox retry`, `purge`) are counted in within `poll_s`.
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
from streamwatch.delivery.outbox_thread import OutboxThread
from streamwatch.delivery.pending_counts import PendingCounts
from streamwatch.delivery.sinks import DeliveryError, Sink
from streamwatch.events.model import Event
from streamwatch.histogram import HistogramRecorder

log = logging.getLogger("streamwatch.delivery")

# A receiver asking for more than this is more likely broken than busy.
MAX_RETRY_AFTER_S = 3600.0
# A commit that failed is tried again after APPEND_RETRY_S, then 4 times longer, up to
# APPEND_ATTEMPTS in all (with the outbox's 1 s busy time-out: at most about 4 s), then the
# event is lost. Longer would hold the camera's pipeline up for an outbox that is not coming back.
APPEND_ATTEMPTS = 3
APPEND_RETRY_S = 0.25


@dataclass
class SinkCounters:
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    last_error: str | None = None
    # Event decided → sink acknowledged, seconds (retries and outages included).
    latency: HistogramRecorder = field(default_factory=HistogramRecorder)


@dataclass
class OutboxWrites:
    """How committing events to the outbox went, since the start."""

    errors: int = 0  # attempts that failed
    lost: int = 0  # events given up after their last attempt failed
    last_error: str | None = None  # None once an event was committed again

    @property
    def healthy(self) -> bool:
        return self.last_error is None


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
        outbox: OutboxThread,
        sinks: Sequence[Sink],
        *,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 60.0,
        poll_s: float = 1.0,
        drain_timeout_s: float = 5.0,
        append_retry_s: float = APPEND_RETRY_S,
    ) -> None:
        self.outbox = outbox
        self.writes = OutboxWrites()
        self._lanes = [_Lane(sink, Backoff(retry_initial_s, retry_max_s)) for sink in sinks]
        self._poll_s = poll_s
        self._drain_timeout_s = drain_timeout_s
        self._append_retry_s = append_retry_s
        self._sinks = AsyncExitStack()
        self._changed = asyncio.Event()
        self._counts: PendingCounts | None = None  # from the start on
        self._refresher: asyncio.Task[None] | None = None

    @property
    def counters(self) -> dict[str, SinkCounters]:
        return {lane.sink.name: lane.counters for lane in self._lanes}

    def pending(self, sink: str) -> int:
        """Events the sink has still to get (counted in memory: costs nothing)."""
        assert self._counts is not None, "the dispatcher is not running (use `async with`)"
        return self._counts.pending(sink)

    @property
    def dropped_full(self) -> int:
        """Events the outbox dropped because it was full, ever (in memory)."""
        assert self._counts is not None, "the dispatcher is not running (use `async with`)"
        return self._counts.dropped_full

    async def submit(self, event: Event) -> None:
        """Commit the event to the outbox, or count it as lost; never raises (but cancelled).

        Returns once the event is synced to disk: the sinks get it from there.
        """
        if not self._lanes:
            return
        if await self._commit(event):
            for lane in self._lanes:
                lane.idle = False
                lane.wake.set()
            return
        self.writes.lost += 1
        # Its id and type only: the data may hold a face crop, or worse.
        log.error(
            "event %s (%s, camera %s) LOST: the outbox could not commit it (%s); %d lost so far",
            event.id,
            event.type,
            event.camera,
            self.writes.last_error,
            self.writes.lost,
        )
        self._notify()

    async def _commit(self, event: Event) -> bool:
        """Append the event, trying again after a short wait if that failed; whether it is in."""
        retry_s = self._append_retry_s
        for attempt in range(1, APPEND_ATTEMPTS + 1):
            try:
                await self.outbox.call(Outbox.append, event)
            except OutboxError as error:
                self.writes.errors += 1
                self.writes.last_error = str(error)
                if attempt < APPEND_ATTEMPTS:
                    log.warning("%s; event %s again in %.2f s", error, event.id, retry_s)
                    await asyncio.sleep(retry_s)
                    retry_s *= 4
            except Exception as error:  # a bug: trying again would not mend it
                self.writes.errors += 1
                self.writes.last_error = type(error).__name__
                log.debug("event %s: the failure", event.id, exc_info=True)
                return False
            else:
                self.writes.last_error = None
                return True
        return False

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Until `condition()` holds; it is checked after each delivery attempt of any sink,
        and after each event lost."""
        while not condition():
            await self._changed.wait()

    async def __aenter__(self) -> Dispatcher:
        filters = {lane.sink.name: lane.sink.accepts for lane in self._lanes}
        await self.outbox.call(Outbox.attach, list(filters))
        self._counts = await self.outbox.call(Outbox.keep_counts, filters)
        try:
            for lane in self._lanes:
                await self._sinks.enter_async_context(lane.sink)
        except BaseException:
            await self._sinks.aclose()
            raise
        for lane in self._lanes:
            lane.worker = asyncio.create_task(self._work(lane), name=f"deliver {lane.sink.name}")
        self._refresher = asyncio.create_task(self._refresh_counts(), name="outbox counts")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Give pending events a bounded time to go out; the rest wait in the outbox."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._drain_timeout_s):
                await self.wait_until(lambda: all(lane.idle for lane in self._lanes))
        tasks = [lane.worker for lane in self._lanes if lane.worker is not None]
        if self._refresher is not None:
            tasks.append(self._refresher)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for lane in self._lanes:
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
                batch = await self.outbox.call(Outbox.pending, name)
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
                    await self.outbox.call(Outbox.acknowledge, name, passed)
            except Exception as error:
                # The outbox unusable (disk full), or a sink's bug: the event stays in the
                # outbox and is tried again, rather than this sink stopping for good. An
                # unexpected error's text may quote a url: only its kind, but for debugging.
                known = isinstance(error, OutboxError)
                lane.counters.last_error = str(error) if known else type(error).__name__
                log.error("%s: %s", name, lane.counters.last_error)
                log.debug("%s: the failure", name, exc_info=not known)
                await asyncio.sleep(lane.backoff.next_delay_s())

    async def _refresh_counts(self) -> None:
        """Another process's changes (`streamwatch outbox retry`, `purge`) into the pending
        counts within `poll_s`, whatever the sinks are doing."""
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await self.outbox.call(Outbox.refresh_counts)
            except OutboxError as error:
                log.warning("%s: the pending counts may be out of date", error)

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
                    await self.outbox.call(Outbox.dead_letter, sink.name, pending, str(error))
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
                await self.outbox.call(Outbox.acknowledge, sink.name, pending.seq)
                counters.delivered += 1
                counters.latency.observe((datetime.now(UTC) - event.time).total_seconds())
                counters.last_error = None
                lane.backoff.reset()
                self._notify()
                return
