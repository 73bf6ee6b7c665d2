"""How late the event loop runs while the daemon is under the load a neglected box gathers.

Four cameras play entrance_sim.mp4 in real time (faces come and go: tracks, calls, events, crops),
a webhook sink is dead so 100 000 events are held in the outbox, the identity memory holds 500
people, and /metrics and /healthz are scraped every second. A heartbeat task asks to wake every
5 ms and records how late it wakes: every millisecond of lateness is a millisecond in which no
camera's frame, no delivery and no HTTP answer could run. Target (issue 14): p99 < 20 ms and
max < 100 ms.

    python bench/loop_stalls.py [--duration-s 60] [--label after]

Runs against whichever streamwatch is imported (PYTHONPATH=<checkout> measures another one), so
an older commit's figure can be taken with the same script; each label's figures are kept in
bench/results/loop_stalls.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from common import write_results

import streamwatch
from streamwatch.analysis.local.models import SFACE_MODEL_NAME
from streamwatch.app.runner import App
from streamwatch.config import Settings
from streamwatch.delivery.outbox import FILE_NAME, Outbox

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
RESULTS = Path(__file__).with_name("results") / "loop_stalls.json"
CLIP = MEDIA / "videos" / "entrance_sim.mp4"
CAMERAS = 4
HELD_EVENTS = 100_000
IDENTITIES = 500
SIGNATURE_DIMS = 128
HEARTBEAT_S = 0.005
SINK = "dead-hook"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def settings(state_dir: Path, status_port: int, dead_port: int) -> Settings:
    return Settings.model_validate(
        {
            "node": "bench",
            "state_dir": str(state_dir),
            "cameras": [
                {"name": f"cam{i}", "source": str(CLIP), "rules": {"crop": True}}
                for i in range(CAMERAS)
            ],
            "tracking": {"identity_file": "identities.json", "forget_after_s": 1e9},
            "sinks": [{"kind": "webhook", "name": SINK, "url": f"http://127.0.0.1:{dead_port}/"}],
            "outbox": {"max_events": HELD_EVENTS + 10_000},
            "overlay": {"web": False},
            "status": {"port": status_port},
        }
    )


def prefill(state_dir: Path) -> None:
    """100 000 events the dead sink has still to get, and 500 remembered people."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / FILE_NAME
    with Outbox(path) as outbox:
        outbox.attach([SINK])
    body = json.dumps(
        {
            "specversion": "1.0",
            "id": "x",
            "source": "streamwatch://bench/cam0",
            "type": "streamwatch.face.new",
            "time": "2026-11-30T12:00:00.000Z",
            "datacontenttype": "application/json",
            "data": {"camera": "cam0"},
        }
    )
    with sqlite3.connect(path) as db:  # one transaction: the outbox API syncs every event
        db.executemany(
            "INSERT INTO events (id, type, target, body) VALUES (?, ?, NULL, ?)",
            ((str(uuid.uuid4()), "streamwatch.face.new", body) for _ in range(HELD_EVENTS)),
        )
    rng = random.Random(7)
    identities = []
    for number in range(1, IDENTITIES + 1):
        values = [rng.gauss(0, 1) for _ in range(SIGNATURE_DIMS)]
        norm = sum(v * v for v in values) ** 0.5
        identities.append(
            {
                "identity_id": f"id-{number}",
                "last_seen_s": time.time(),
                "last_track_id": f"old-{number}",
                "signatures": [{"model": SFACE_MODEL_NAME, "values": [v / norm for v in values]}],
            }
        )
    (state_dir / "identities.json").write_text(json.dumps({"identities": identities}))


async def heartbeat(lateness_s: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        asked_s = time.perf_counter()
        await asyncio.sleep(HEARTBEAT_S)
        lateness_s.append(time.perf_counter() - asked_s - HEARTBEAT_S)


async def scrape(url: str, stop: asyncio.Event, scrapes_ms: list[float]) -> None:
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            started_s = time.perf_counter()
            for route in ("metrics", "healthz"):
                async with session.get(url + route) as response:
                    await response.read()
            scrapes_ms.append((time.perf_counter() - started_s) * 1000)
            await asyncio.sleep(1.0)


async def measure(duration_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="loop-stalls-") as directory:
        state_dir = Path(directory) / "state"
        prefill(state_dir)
        status_port = free_port()
        config = settings(state_dir, status_port, dead_port=free_port())
        lateness_s: list[float] = []
        scrapes_ms: list[float] = []
        stop = asyncio.Event()
        async with App(config) as app:
            held = app.dispatcher.pending(SINK)
            identities = len(app.identities)
            tasks = [
                asyncio.create_task(heartbeat(lateness_s, stop)),
                asyncio.create_task(scrape(f"http://127.0.0.1:{status_port}/", stop, scrapes_ms)),
            ]
            await app.run(asyncio.Event(), duration_s=duration_s)
            stop.set()
            await asyncio.gather(*tasks)
            events = sum(p.counters.events for p in app.pipelines.values())
    ordered = sorted(lateness_s)

    def percentile_ms(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)

    return {
        "streamwatch": str(Path(streamwatch.__file__).parent),
        "duration_s": duration_s,
        "cameras": CAMERAS,
        "held_events": held,
        "identities": identities,
        "events_made": events,
        "heartbeats": len(ordered),
        "lateness_ms": {
            "p50": percentile_ms(0.50),
            "p95": percentile_ms(0.95),
            "p99": percentile_ms(0.99),
            "max": round(ordered[-1] * 1000, 2),
        },
        "late_over_20ms": sum(s > 0.020 for s in ordered),
        "late_over_100ms": sum(s > 0.100 for s in ordered),
        "scrape_ms_median": round(statistics.median(scrapes_ms), 1) if scrapes_ms else None,
        "scrape_ms_max": round(max(scrapes_ms), 1) if scrapes_ms else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--label", default="this checkout")
    args = parser.parse_args()
    if not CLIP.exists():
        sys.exit(f"{CLIP} is missing: the benchmark plays it")
    figures = asyncio.run(measure(args.duration_s))
    lateness = figures["lateness_ms"]
    print(
        f"{args.label}: loop lateness p50 {lateness['p50']} ms, p95 {lateness['p95']} ms, "
        f"p99 {lateness['p99']} ms, max {lateness['max']} ms; {figures['late_over_100ms']} "
        f"wake-ups over 100 ms; /metrics+/healthz median {figures['scrape_ms_median']} ms "
        f"(held {figures['held_events']} events, {figures['identities']} identities)"
    )
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    runs = previous.get("runs", {})
    runs[args.label] = figures
    write_results(RESULTS, {"target": {"p99_ms": 20, "max_ms": 100}, "runs": runs})


if __name__ == "__main__":
    main()
