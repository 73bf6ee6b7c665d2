"""The history on this machine: the operator page's `GET /api/events?limit=50` over a full store.

    python bench/history.py [--events N] [--requests R]

A store under a temporary directory is filled with N face events (10 000 by default, the
default `max_events`) over 4 cameras, one in ten an alarm, the first 200 of those with their
pictures (a 720p frame of noise, ~750 kB: JPEG's worst case); the live view then serves it on
127.0.0.1 and a client asks, R times each:
- `?limit=50`                          what the operator's page loads (all cameras),
- `?limit=50&camera=door-2`            one camera's page,
- `?limit=50&type=face.maskless`       alarms only,
- `?limit=50&since=<an hour ago>`      recent ones;
timing each answer from the request to its last byte (median, p95, max). Also: how long one
event takes to keep (`add`, synced to disk) and one alarm's pictures (`keep_pictures`, the
JPEG encoding included), as the sink and the pipeline wait for them.

Client, server and store share one process and two cores with other work: the figures are an
upper bound. Writes bench/results/history.json.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import numpy as np
from common import SAMPLE_FACE, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamwatch.config.history import HistorySettings
from streamwatch.config.serving import OverlaySettings
from streamwatch.events import Event
from streamwatch.history import History
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.web import serve_live_view

RESULTS = Path(__file__).parent / "results" / "history.json"
CAMERAS = ["door-1", "door-2", "hall", "yard"]


def event(n: int, at: datetime) -> Event:
    camera = CAMERAS[n % len(CAMERAS)]
    kind = "face.maskless" if n % 10 == 0 else ("face.new", "face.left")[n % 2]
    data = {"camera": camera, "track_id": f"{camera}-{n}", "analyzer": "local", "face": SAMPLE_FACE}
    return Event.create(
        kind, node="bench", camera=camera, subject=f"{camera}-{n}", data=data, time=at
    )


def stats_ms(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def fill(history: History, count: int) -> dict[str, Any]:
    image = np.random.default_rng(1).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    start = datetime.now(UTC) - timedelta(hours=6)
    adds: list[float] = []
    pictures: list[float] = []
    for n in range(count):
        each = event(n, start + timedelta(seconds=2 * n))
        if each.kind == "face.maskless" and len(pictures) < 200:
            began = time.perf_counter()
            await history.keep_pictures([each], image, [])
            pictures.append(time.perf_counter() - began)
        began = time.perf_counter()
        await history.add(each)
        adds.append(time.perf_counter() - began)
    return {"add": stats_ms(adds), "keep_pictures_720p": stats_ms(pictures)}


async def ask(http: aiohttp.ClientSession, url: str, repeat: int) -> dict[str, Any]:
    samples: list[float] = []
    returned = 0
    for _ in range(repeat + 1):
        began = time.perf_counter()
        async with http.get(url) as response:
            body = await response.read()
        samples.append(time.perf_counter() - began)
        assert response.status == 200, body[:200]
        returned = body.count(b'"specversion"')
    return {**stats_ms(samples[1:]), "events": returned}  # the first warms the caches


async def main(count: int, repeat: int) -> None:
    settings = HistorySettings(max_events=count, max_mb=2000)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.db"
        alarms = ("face.maskless",)
        async with History(path, settings, alarm_kinds=alarms) as history:  # type: ignore[arg-type]
            print(f"filling {count} events …", flush=True)
            began = time.perf_counter()
            writes = await fill(history, count)
            fill_s = time.perf_counter() - began
            board = SceneBoard(CAMERAS)
            async with serve_live_view(board, OverlaySettings(web_port=0), history=history) as s:
                since = quote((datetime.now(UTC) - timedelta(hours=1)).isoformat())
                queries = {
                    "limit=50": "api/events?limit=50",
                    "limit=50&camera": "api/events?limit=50&camera=door-2",
                    "limit=50&type": "api/events?limit=50&type=face.maskless",
                    "limit=50&since": f"api/events?limit=50&since={since}",
                }
                async with aiohttp.ClientSession() as http:
                    answers = {
                        name: await ask(http, s.url + q, repeat) for name, q in queries.items()
                    }
            size_mb = path.stat().st_size / 1e6
            held = history.stats
    results = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "events": count,
        "held_events": held.events,
        "held_mb": round(held.bytes / 1e6, 1),
        "file_mb": round(size_mb, 1),
        "fill_s": round(fill_s, 1),
        "writes": writes,
        "get_api_events": answers,
    }
    for name, answer in answers.items():
        print(
            f"GET /api/events?{name:16} median {answer['median_ms']:6.2f} ms   p95 "
            f"{answer['p95_ms']:6.2f} ms   max {answer['max_ms']:6.2f} ms"
        )
    print(
        f"add (synced): median {writes['add']['median_ms']} ms; alarm pictures 720p: median "
        f"{writes['keep_pictures_720p']['median_ms']} ms; {held.events} events, "
        f"{results['held_mb']} MB held, file {results['file_mb']} MB"
    )
    write_results(RESULTS, results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.requests))
