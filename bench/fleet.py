"""A fleet's shared call budget against one real Redis: what it costs and whom it serves.

    python bench/fleet.py [--boxes 50] [--seconds 5] [--priority-seconds 60]

One process, budget clients only (no cameras, no API): each simulated box is a SharedBackend
(or a CallBudget over one) with its own Redis client, as a box of the fleet would have.
redis-server (Debian's) is started here on a free loopback port, without persistence.

(a) Capacity: --boxes boxes admit back to back for --seconds under an account rate far above
    what they ask: admissions per second the backend sustains (one Python process is the
    client side: the figure is a floor of Redis's), Redis round trips per admission (the
    backend's count of scripts sent, checked against Redis's own count of EVALSHA calls;
    target 1), and the latency one admission adds (p50/p95, loopback).
(b) Fairness: the same boxes, each wanting a call every camera_interval_s (0.5 s: 100 calls/s
    asked in all), under an account rate of 20 calls/s for --seconds * 2: Jain's fairness
    index of the calls each box got (1.0: all alike; 1/n: one box took everything), and round
    trips per admission under contention (a call refused because its slot would come after its
    deadline is a round trip too).
(c) Priorities: 20 cameras on 5 boxes sharing 2 calls/s for --priority-seconds. New faces
    walk in (one every 12 s per camera on average, staying 8 s); a camera with a face in view
    also wants a better/undecided/refresh call every second (20 such calls/s asked for 2).
    Each camera has one call in flight at a time (the pipeline's call loop), calls take
    0.3 s, camera_interval_s 0.5, max_age_s 2. The figure: the share of new faces whose
    first call was admitted within max_age_s of their first candidate, with priorities
    (budget.reserved_calls = 1: first calls high, the rest low) and without (every call
    alike, first come first served).

Prints the figures and writes bench/results/fleet.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as redis
from common import write_results

from streamwatch.budget import BudgetDenied, CallBudget, Priority
from streamwatch.budget.shared import SharedBackend
from streamwatch.config import BudgetSettings

RESULTS = Path(__file__).parent / "results" / "fleet.json"
API_LATENCY_S = 0.3
MAX_AGE_S = 2.0


@asynccontextmanager
async def redis_server() -> AsyncIterator[str]:
    executable = shutil.which("redis-server")
    if executable is None:
        sys.exit("redis-server not installed (apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        executable,
        *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
        stdout=asyncio.subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                await client.ping()
                break
            except redis.ConnectionError:
                await asyncio.sleep(0.05)
        await client.aclose()
        yield url
    finally:
        process.terminate()
        await process.wait()


async def evalsha_calls(url: str) -> int:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        stats = await client.info("commandstats")
        return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))
    finally:
        await client.aclose()


@asynccontextmanager
async def boxes(
    url: str, count: int, account: str, **budget: Any
) -> AsyncIterator[list[SharedBackend]]:
    settings = BudgetSettings(redis_url=url, account=account, camera_interval_s=0, **budget)
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(SharedBackend(settings, node=f"box{n}"))
            for n in range(count)
        ]


def percentile_ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)


async def capacity(url: str, count: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    async with boxes(url, count, "capacity", max_calls=1_000_000, period_s=1.0) as fleet:
        await asyncio.sleep(0.5)  # the first heartbeats
        for box in fleet:
            box.round_trips = 0
        scripts_before = await evalsha_calls(url)
        end_s = time.monotonic() + seconds

        async def admit_back_to_back(box: SharedBackend) -> None:
            while (start := time.monotonic()) < end_s:
                await box.admit(Priority.HIGH, start + MAX_AGE_S)
                latencies.append(time.monotonic() - start)

        await asyncio.gather(*(admit_back_to_back(box) for box in fleet))
        round_trips = sum(box.round_trips for box in fleet)
    # Redis counts every EVALSHA, heartbeats included; the backend counts only its own.
    scripts = await evalsha_calls(url) - scripts_before
    admissions = len(latencies)
    single: list[float] = []
    async with boxes(url, 1, "latency", max_calls=1_000_000, period_s=1.0) as (box,):
        for _ in range(2000):  # one box alone: what one admission adds, without queueing
            start = time.monotonic()
            await box.admit(Priority.HIGH, start + MAX_AGE_S)
            single.append(time.monotonic() - start)
    return {
        "boxes": count,
        "seconds": seconds,
        "admissions": admissions,
        "admissions_per_s": round(admissions / seconds),
        "round_trips_per_admission": round(round_trips / admissions, 3),
        "redis_evalsha_per_admission": round(scripts / admissions, 3),
        "latency_under_load_p50_ms": percentile_ms(latencies, 0.5),
        "latency_under_load_p95_ms": percentile_ms(latencies, 0.95),
        "latency_one_box_p50_ms": percentile_ms(single, 0.5),
        "latency_one_box_p95_ms": percentile_ms(single, 0.95),
    }


async def fairness(url: str, count: int, seconds: float) -> dict[str, Any]:
    rate = 20
    got = [0] * count
    async with boxes(
        url, count, "fairness", max_calls=rate, period_s=1.0, rate_margin_s=0
    ) as fleet:
        for box in fleet:
            box.round_trips = 0
        end_s = time.monotonic() + seconds

        async def want_calls(n: int, box: SharedBackend) -> None:
            while (now_s := time.monotonic()) < end_s:
                try:
                    await box.admit(Priority.HIGH, now_s + MAX_AGE_S)
                    got[n] += 1
                except TimeoutError:  # its slot would come too late: dropped
                    pass
                await asyncio.sleep(0.5)  # the camera's next candidate (camera_interval_s)

        await asyncio.gather(*(want_calls(n, box) for n, box in enumerate(fleet)))
        round_trips = sum(box.round_trips for box in fleet)
    admitted = sum(got)
    jain = admitted**2 / (count * sum(g * g for g in got))
    return {
        "boxes": count,
        "account_calls_per_s": rate,
        "seconds": seconds,
        "admitted": admitted,
        # The last admissions booked slots up to max_age_s past the end.
        "admitted_per_s": round(admitted / (seconds + MAX_AGE_S), 2),
        "calls_per_box_min_max": [min(got), max(got)],
        "jain_fairness_index": round(jain, 4),
        "round_trips_per_admission": round(round_trips / admitted, 3),
    }


@dataclass
class Face:
    arrived_s: float
    leaves_s: float
    first_call_s: float | None = None


@dataclass
class Camera:
    name: str
    faces: list[Face] = field(default_factory=list)
    last_call_s: float = 0.0


async def priorities(url: str, seconds: float, prioritised: bool, seed: int) -> dict[str, Any]:
    settings = BudgetSettings(
        redis_url=url,
        account=f"priorities-{prioritised}",
        max_calls=2,
        period_s=1.0,
        max_age_s=MAX_AGE_S,
        camera_interval_s=0.5,
        reserved_calls=1 if prioritised else 0,
    )
    rng = random.Random(seed)
    start_s = time.monotonic()
    end_s = start_s + seconds
    cameras = [Camera(f"cam{n}") for n in range(20)]
    # The same visitors for both runs: arrivals drawn from the seed, relative to the start.
    for camera in cameras:
        at_s = rng.expovariate(1 / 12)
        while at_s < seconds - 8:
            camera.faces.append(Face(start_s + at_s, start_s + at_s + 8))
            at_s += rng.expovariate(1 / 12)
    low_admitted = 0

    async def run_camera(budget: CallBudget, camera: Camera) -> None:
        nonlocal low_admitted
        while (now_s := time.monotonic()) < end_s:
            present = [f for f in camera.faces if f.arrived_s <= now_s < f.leaves_s]
            new = [f for f in present if f.first_call_s is None]
            if new:
                priority, candidate_s = Priority.HIGH, now_s
            elif present and now_s - camera.last_call_s >= 1.0:
                priority, candidate_s = Priority.LOW, now_s
            else:
                await asyncio.sleep(0.05)
                continue
            try:
                async with budget.call(
                    camera.name, candidate_s, priority if prioritised else Priority.HIGH
                ) as permit:
                    await permit.attempt()
                    called_s = time.monotonic()
                    camera.last_call_s = called_s
                    for face in new:
                        face.first_call_s = called_s
                    low_admitted += not new
                    await asyncio.sleep(API_LATENCY_S)
            except BudgetDenied:
                await asyncio.sleep(0.05)  # dropped: the next frame's candidate

    async with AsyncExitStack() as stack:
        budgets = []
        for n in range(5):
            backend = await stack.enter_async_context(SharedBackend(settings, node=f"box{n}"))
            budgets.append(CallBudget(settings, backend=backend))
        await asyncio.gather(
            *(run_camera(budgets[n // 4], camera) for n, camera in enumerate(cameras))
        )
    faces = [f for c in cameras for f in c.faces if f.arrived_s < end_s - MAX_AGE_S]
    in_time = [
        f for f in faces if f.first_call_s is not None and f.first_call_s - f.arrived_s <= MAX_AGE_S
    ]
    waits = [f.first_call_s - f.arrived_s for f in faces if f.first_call_s is not None]
    return {
        "priorities": prioritised,
        "new_faces": len(faces),
        "first_call_within_max_age_share": round(len(in_time) / len(faces), 3),
        "first_call_wait_median_s": round(statistics.median(waits), 2) if waits else None,
        "never_called": sum(1 for f in faces if f.first_call_s is None),
        "low_calls_admitted": low_admitted,
    }


async def main(arguments: argparse.Namespace) -> dict[str, Any]:
    async with redis_server() as url:
        print("(a) capacity ...", flush=True)
        a = await capacity(url, arguments.boxes, arguments.seconds)
        print(a, flush=True)
        print("(b) fairness ...", flush=True)
        b = await fairness(url, arguments.boxes, arguments.seconds * 2)
        print(b, flush=True)
        print("(c) priorities ...", flush=True)
        with_priorities = await priorities(url, arguments.priority_seconds, True, arguments.seed)
        print(with_priorities, flush=True)
        without = await priorities(url, arguments.priority_seconds, False, arguments.seed)
        print(without, flush=True)
    return {
        "benchmark": "fleet",
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "redis_server": arguments.redis_version,
        "capacity": a,
        "fairness": b,
        "priorities": {"with": with_priorities, "without": without},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boxes", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--priority-seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=18)
    arguments = parser.parse_args()
    version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[2]
    arguments.redis_version = version.removeprefix("v=")
    results = asyncio.run(main(arguments))
    write_results(RESULTS, results)
