"""Delivery on this machine: the outbox's cost, and events through it to a signed webhook.

    python bench/delivery.py [--events N] [--rate HZ]

(a) `Dispatcher.submit`: the synced SQLite commit the pipeline waits for, per event (p50/p95),
    made on the outbox's own thread, while the sink's worker reads and acknowledges events on
    that same thread; and the same commits with nothing else at work ("alone"), which is the
    commit itself and the hop to the thread and back.
(b) Throughput: N face events submitted at once, through the outbox to a real aiohttp
    receiver on 127.0.0.1 (signed, one request at a time, as the webhook sink sends them), in
    events/s; against the same POSTs sent straight by the sink with no outbox, in alternating
    rounds of the same run.
(c) Latency: events submitted at a steady HZ, from `submit` to the receiver's handler (p50/p95).

The receiver runs in the same process and event loop (it costs CPU the sender does not get);
on a 2-core machine shared with other work the absolute figures are noisy: compare the ratio.
Writes bench/results/delivery.json.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from common import SAMPLE_FACE, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support

from streamwatch.config import WebhookSinkSettings
from streamwatch.delivery import Dispatcher, Outbox, OutboxThread, WebhookSink
from streamwatch.events import Event
from tests.support.webhook_receiver import webhook_receiver

RESULTS = Path(__file__).parent / "results" / "delivery.json"
SECRET = "whsec_" + "YmVuY2gtZGVsaXZlcnktc2VjcmV0LWtleQ=="


def face_event(n: int) -> Event:
    camera = ("lobby", "side-door")[n % 2]
    data = {
        "camera": camera,
        "track_id": f"{camera}-{n}",
        "analyzer": "ailab",
        "frame_time": "2026-11-24T09:15:02.067Z",
        "frame_timestamp_s": 1795511702.067,
        "face": SAMPLE_FACE,
    }
    return Event.create("face.new", node="bench", camera=camera, subject=f"{camera}-{n}", data=data)


def percentiles_ms(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
    }


def signed(url: str, session: aiohttp.ClientSession) -> WebhookSink:
    return WebhookSink(WebhookSinkSettings(kind="webhook", url=url, secret=SECRET), session)


async def direct_rate(session: aiohttp.ClientSession, events: list[Event]) -> float:
    """Events/s of the sink's POSTs one after another, with no outbox."""
    async with webhook_receiver() as receiver:
        sink = signed(receiver.url, session)
        started = time.perf_counter()
        for event in events:
            await sink.deliver(event)
        return len(events) / (time.perf_counter() - started)


async def outbox_rate(
    session: aiohttp.ClientSession, events: list[Event], path: Path, submit_s: list[float]
) -> float:
    """Events/s from the first submit to the last arrival; each submit's time into submit_s."""
    async with webhook_receiver() as receiver, OutboxThread(path) as outbox:
        async with Dispatcher(outbox, [signed(receiver.url, session)]) as dispatcher:
            started = time.perf_counter()
            for event in events:
                before = time.perf_counter()
                await dispatcher.submit(event)
                submit_s.append(time.perf_counter() - before)
            await receiver.wait_for(len(events), timeout_s=600)
            rate = len(events) / (time.perf_counter() - started)
        assert await outbox.call(Outbox.held) == 0, "the outbox kept delivered events"
    return rate


async def commits_alone_s(events: list[Event], path: Path) -> list[float]:
    """Each commit on the outbox's thread, with no sink at work meanwhile."""
    samples_s = []
    async with OutboxThread(path) as outbox:
        await outbox.call(Outbox.attach, ["bench"])
        for event in events:
            before = time.perf_counter()
            await outbox.call(Outbox.append, event)
            samples_s.append(time.perf_counter() - before)
    return samples_s


async def latencies_s(
    session: aiohttp.ClientSession, events: list[Event], rate_hz: float, path: Path
) -> list[float]:
    """Submit → receiver's handler, for events submitted at a steady rate."""
    submitted_at: dict[str, float] = {}
    async with webhook_receiver() as receiver, OutboxThread(path) as outbox:
        async with Dispatcher(outbox, [signed(receiver.url, session)]) as dispatcher:
            start_s = time.monotonic()
            for n, event in enumerate(events):
                submitted_at[event.id] = time.monotonic()
                await dispatcher.submit(event)
                await asyncio.sleep(max(0.0, start_s + (n + 1) / rate_hz - time.monotonic()))
            await receiver.wait_for(len(events), timeout_s=600)
        return [r.at_s - submitted_at[r.event["id"]] for r in receiver.received]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="events per round of (b)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (b), alternating")
    parser.add_argument("--rate", type=float, default=50.0, help="events/s for (c)")
    parser.add_argument("--latency-events", type=int, default=300)
    args = parser.parse_args()

    submit_s: list[float] = []
    direct, through = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        async with aiohttp.ClientSession() as session:
            # Alternating rounds, so that a busy moment of the machine hits both alike.
            for round_index in range(args.rounds):
                events = [face_event(n) for n in range(args.events)]
                direct.append(await direct_rate(session, events))
                path = folder / f"round{round_index}.db"
                through.append(await outbox_rate(session, events, path, submit_s))
            alone_s = await commits_alone_s(events, folder / "alone.db")
            paced = [face_event(n) for n in range(args.latency_events)]
            latency_s = await latencies_s(session, paced, args.rate, folder / "latency.db")
    direct_median = statistics.median(direct)
    through_median = statistics.median(through)
    ratios = [t / d for t, d in zip(through, direct, strict=True)]

    result: dict[str, Any] = {
        "benchmark": "delivery",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "events_per_round": args.events,
        "rounds": args.rounds,
        "event_json_bytes": len(face_event(0).to_json()),
        "submit_commit": percentiles_ms(submit_s),
        "submit_commit_alone": percentiles_ms(alone_s),
        "webhook_direct_events_per_s": round(direct_median, 1),
        "outbox_to_webhook_events_per_s": round(through_median, 1),
        "outbox_over_direct_per_round": [round(r, 3) for r in ratios],
        "outbox_over_direct": round(statistics.median(ratios), 3),
        "latency_rate_hz": args.rate,
        "latency_events": args.latency_events,
        "event_to_receiver": percentiles_ms(latency_s),
    }
    write_results(RESULTS, result)
    submit = result["submit_commit"]
    latency = result["event_to_receiver"]
    print(f"event JSON: {result['event_json_bytes']} bytes, signed webhook, receiver in-process")
    print(
        f"(a) submit (synced outbox commit): p50 {submit['p50_ms']} ms, p95 {submit['p95_ms']} ms"
    )
    alone = result["submit_commit_alone"]
    print(f"    the same commits alone: p50 {alone['p50_ms']} ms, p95 {alone['p95_ms']} ms")
    print(
        f"(b) {args.rounds} rounds of {args.events} events: through the outbox "
        f"{through_median:.0f}/s, straight POSTs {direct_median:.0f}/s (medians); ratio per "
        f"round {', '.join(f'{r:.2f}' for r in ratios)}"
    )
    print(
        f"(c) {args.latency_events} events at {args.rate:g}/s, submit → receiver: "
        f"p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
