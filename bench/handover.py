"""What handing frames from the reader threads to the event loop costs, without decoding.

    python bench/handover.py [--cameras 8] [--seconds 20] [--label NAME]

N threads put a 720p frame into their camera's LatestFrame at 15 fps (as the reader threads
do after each read), either all at once (cameras behind one RTSP server, or one NVR) or
spread over the frame interval; on the loop, each camera has a gate task taking every frame
(`next`, a fixed 0.3 ms of work standing for the motion gate) and a live task watching it
(`watch`), as CameraPipeline does. Measured: the process's CPU (% of a core) and the loop
wake-ups per second (self-pipe writes: asyncio's `_write_to_self`, counted by wrapping it).

Runs against whichever streamwatch is imported (PYTHONPATH=<checkout> measures another one);
each label's figures are kept in bench/results/handover.json.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import write_labelled_results

import streamwatch
from streamwatch.capture.frame import Frame
from streamwatch.capture.latest import LatestFrame

RESULTS = Path(__file__).parent / "results" / "handover.json"
FPS = 15
GATE_WORK_S = 0.0003


def busy(seconds: float) -> None:
    end_s = time.perf_counter() + seconds
    while time.perf_counter() < end_s:
        pass


async def measure(cameras: int, seconds: float, *, aligned: bool) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    writes = 0
    write_to_self = loop._write_to_self  # type: ignore[attr-defined]

    def counted() -> None:
        nonlocal writes
        writes += 1
        write_to_self()

    loop._write_to_self = counted  # type: ignore[attr-defined]
    slots = [LatestFrame(loop) for _ in range(cameras)]
    image = np.zeros((720, 1280, 3), np.uint8)
    stop = threading.Event()
    started_s = time.monotonic()

    def reader(index: int) -> None:
        offset_s = 0.0 if aligned else index / cameras / FPS
        sequence = 0
        while not stop.is_set():
            sequence += 1
            due_s = started_s + offset_s + sequence / FPS
            stop.wait(max(0.0, due_s - time.monotonic()))
            slots[index].put(Frame(f"cam{index}", sequence, time.time(), time.monotonic(), image))

    async def gate(slot: LatestFrame) -> None:
        sequence = -1
        while True:
            sequence = (await slot.next(sequence)).sequence
            busy(GATE_WORK_S)

    async def live(slot: LatestFrame) -> None:
        sequence = -1
        while True:
            sequence = (await slot.watch(sequence)).sequence

    tasks = [asyncio.create_task(gate(s)) for s in slots] + [
        asyncio.create_task(live(s)) for s in slots
    ]
    threads = [threading.Thread(target=reader, args=(i,)) for i in range(cameras)]
    cpu_before_s, wall_before_s = time.process_time(), time.monotonic()
    for thread in threads:
        thread.start()
    await asyncio.sleep(seconds)
    stop.set()
    for thread in threads:
        await asyncio.to_thread(thread.join)
    cpu_s, wall_s = time.process_time() - cpu_before_s, time.monotonic() - wall_before_s
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    loop._write_to_self = write_to_self  # type: ignore[attr-defined]
    return {
        "cpu_pct": round(100 * cpu_s / wall_s, 2),
        "wakeups_per_s": round(writes / wall_s, 1),
        "frames_per_s": round(cameras * FPS, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--label", default="this checkout")
    args = parser.parse_args()
    figures: dict[str, Any] = {
        "streamwatch": str(Path(streamwatch.__file__).parent),
        "cameras": args.cameras,
    }
    for aligned in (True, False):
        name = "frames_at_once" if aligned else "frames_spread"
        figures[name] = asyncio.run(measure(args.cameras, args.seconds, aligned=aligned))
        print(f"{args.label}, {args.cameras} cameras, {name}: {figures[name]}", flush=True)
    write_labelled_results(RESULTS, args.label, figures)


if __name__ == "__main__":
    main()
