"""Event latency from the frame to the webhook, with a 300 ms API round trip.

    python bench/latency.py [--clips entrance_sim asl_5people_sequence] [--rtt-ms 300] [--quick]
                            [--plays N] [--label NAME]

Each clip plays in real time (N times: --plays), as a file camera of one `streamwatch run`
that calls the cloud client against `streamwatch emulate --latency-ms 300` (the API contract
served from the local analyzer, every answer 300 ms late) and posts its events to a real
aiohttp webhook receiver in this process. Per event of face.new and face.maskless: the wall
time the webhook got it minus the event's frame time (data.frame_timestamp_s), as
p50/p95/max, and that time split at the moment the event was made (its "time"). Calls per
person are the calls made (/metrics) over the clip's person-appearances (bench/selection.py's
ground truth), shown beside the figure bench/selection.py measured for the same clip.
With --plays N the events of the N plays are pooled, and each play's own p95 is kept beside
them: one play of a clip has 12-20 events, so its p95 is its slowest event or nearly, and
which event that is varies with the frames real time drops.

Prints a table and writes bench/results/latency.json (figures kept per --label).
Every process started here is stopped on any exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import cv2
from common import write_results
from selection import ground_truth

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support

from streamwatch.analysis.contract import ENDPOINT_PATH
from tests.support.ports import free_port
from tests.support.webhook_receiver import webhook_receiver

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "latency.json"
SELECTION = Path(__file__).parent / "results" / "selection.json"
MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
KINDS = ("face.new", "face.maskless")
API_KEY = "bench-key"
# After the clip: time for the last calls, the tracks to leave and the deliveries to land.
DRAIN_S = 8.0
STOP_TIMEOUT_S = 20.0


@contextlib.asynccontextmanager
async def process(*args: str, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """A subprocess, SIGTERM then SIGKILL on any exit of the block."""
    with log.open("wb") as log_file:
        child = await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log_file,
            # Not in the checkout: `-m` would import the streamwatch of the working directory;
            # the one measured is PYTHONPATH's, else this checkout's.
            cwd=log.parent,
            env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(REPO)},
        )
        try:
            yield child
        finally:
            if child.returncode is None:
                child.terminate()
                try:
                    async with asyncio.timeout(STOP_TIMEOUT_S):
                        await child.wait()
                except TimeoutError:
                    child.kill()
                    await child.wait()


async def until_listening(port: int, timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            await asyncio.sleep(0.1)  # nothing to await but the port: it is polled


async def calls_made(session: aiohttp.ClientSession, status_port: int) -> float | None:
    """streamwatch_camera_calls_total{outcome="made"} now, or None when not answering."""
    with contextlib.suppress(aiohttp.ClientError, OSError):
        async with session.get(f"http://127.0.0.1:{status_port}/metrics") as answer:
            text = await answer.text()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("streamwatch_camera_calls_total{") and 'outcome="made"' in line
        )
    return None


# The slowest events of all plays, each with its type, are kept with the figures.
SLOWEST = 5


@dataclass(frozen=True)
class Play:
    """One play of a clip: its events' latencies (ms) and the calls it made."""

    played_s: float
    calls_made: float | None
    latencies_ms: dict[str, list[float]]  # frame → webhook, by event type
    decided_ms: list[float]  # frame → the event made (its "time")
    delivered_ms: list[float]  # the event made → the webhook got it

    @property
    def all_ms(self) -> list[float]:
        return [v for values in self.latencies_ms.values() for v in values]


async def measure_clip(clip: Path, rtt_ms: float, seconds: float | None) -> Play:
    capture = cv2.VideoCapture(str(clip))
    clip_s = capture.get(cv2.CAP_PROP_FRAME_COUNT) / capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    play_s = min(clip_s, seconds) if seconds else clip_s
    api_port, status_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="latency-") as directory:
        state_dir = Path(directory)
        python = sys.executable
        async with (
            webhook_receiver() as receiver,
            process(
                *(python, "-m", "streamwatch", "emulate", "--port", str(api_port)),
                *("--latency-ms", str(rtt_ms)),
                log=state_dir / "emulator.log",
            ),
        ):
            await until_listening(api_port)
            config = state_dir / "streamwatch.toml"
            config.write_text(
                f'node = "bench"\nstate_dir = "{state_dir}"\n\n'
                f'[[cameras]]\nname = "clip"\nsource = "{clip}"\nloop = false\n\n'
                f'[analyzer]\nkind = "ailab"\napi_key = "{API_KEY}"\n'
                f'url = "http://127.0.0.1:{api_port}{ENDPOINT_PATH}"\n\n'
                f'[[sinks]]\nkind = "webhook"\nurl = "{receiver.url}"\n\n'
                f"[overlay]\nweb = false\n\n[status]\nport = {status_port}\n"
            )
            wall_minus_monotonic_s = time.time() - time.monotonic()
            calls = None
            async with (
                process(
                    *(python, "-m", "streamwatch", "--log-level", "warning", "run"),
                    *("--config", str(config), "--duration", str(play_s + DRAIN_S)),
                    log=state_dir / "streamwatch.log",
                ) as daemon,
                aiohttp.ClientSession() as session,
            ):
                while daemon.returncode is None:  # the last figure before it stops
                    if (now := await calls_made(session, status_port)) is not None:
                        calls = now
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(1.0):
                            await daemon.wait()
    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
    decided_ms: list[float] = []
    delivered_ms: list[float] = []
    for delivery in receiver.received:
        event = delivery.event
        kind = event["type"].removeprefix("streamwatch.")
        if kind in latencies:
            received_wall_s = delivery.at_s + wall_minus_monotonic_s
            frame_s = event["data"]["frame_timestamp_s"]
            made_s = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
            latencies[kind].append((received_wall_s - frame_s) * 1000)
            decided_ms.append((made_s - frame_s) * 1000)
            delivered_ms.append((received_wall_s - made_s) * 1000)
    return Play(play_s, calls, latencies, decided_ms, delivered_ms)


def pooled(plays: list[Play]) -> dict[str, Any]:
    """The figures of every event of every play together, and each play's p95 beside them
    (one play's 12-20 events make its p95 its slowest event or nearly)."""
    calls = [play.calls_made for play in plays if play.calls_made is not None]
    return {
        "played_s": round(plays[0].played_s, 1),
        "plays": len(plays),
        "calls_made": statistics.mean(calls) if len(calls) == len(plays) else None,
        "latency_ms": {
            kind: summary([v for play in plays for v in play.latencies_ms[kind]]) for kind in KINDS
        },
        "all_ms": summary([v for play in plays for v in play.all_ms]),
        "frame_to_event_made_ms": summary([v for play in plays for v in play.decided_ms]),
        "event_made_to_webhook_ms": summary([v for play in plays for v in play.delivered_ms]),
        "slowest_ms": sorted(
            (
                (kind, round(v))
                for play in plays
                for kind, vs in play.latencies_ms.items()
                for v in vs
            ),
            key=lambda event: -event[1],
        )[:SLOWEST],
        "per_play": [
            {"calls_made": play.calls_made, "all_ms": summary(play.all_ms)} for play in plays
        ],
    }


def summary(values_ms: list[float]) -> dict[str, float | int | None]:
    if not values_ms:
        return {"events": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(values_ms)
    return {
        "events": len(ordered),
        "p50": round(statistics.median(ordered)),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]),
        "max": round(ordered[-1]),
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    # SIGTERM unwinds like Ctrl-C: the daemon, the emulator and the receiver are stopped.
    this = asyncio.current_task()
    assert this is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, this.cancel)
    appearances = {clip.name: len(clip.appearances) for clip in ground_truth()}
    selection = json.loads(SELECTION.read_text())["clips"] if SELECTION.exists() else {}
    figures: dict[str, Any] = {"rtt_ms": args.rtt_ms, "clips": {}}
    for name in args.clips:
        clip = pooled(
            [
                await measure_clip(MEDIA / f"{name}.mp4", args.rtt_ms, args.seconds)
                for _ in range(args.plays)
            ]
        )
        people = appearances.get(name)
        calls = clip["calls_made"]
        if people and calls is not None and args.seconds is None:  # whole clips only
            clip["calls_per_appearance"] = round(calls / people, 2)
        if name in selection:
            clip["selection_bench_calls_per_appearance"] = selection[name]["policy"][
                "calls_per_appearance"
            ]
        figures["clips"][name] = clip
        everything = clip["all_ms"]
        print(
            f"{name}, {args.plays} play(s): {everything['events']} events (face.new, "
            "face.maskless), frame→webhook "
            f"p50 {everything['p50']} ms, p95 {everything['p95']} ms, max {everything['max']} ms; "
            f"{calls} calls, {clip.get('calls_per_appearance')} per appearance (selection "
            f"bench: {clip.get('selection_bench_calls_per_appearance')})",
            flush=True,
        )
        print(f"    by type: {clip['latency_ms']}", flush=True)
        if args.plays > 1:
            each = [play["all_ms"]["p95"] for play in clip["per_play"]]
            print(f"    each play's p95: {each} ms", flush=True)
        print(
            f"    frame → event made {clip['frame_to_event_made_ms']}, "
            f"made → webhook {clip['event_made_to_webhook_ms']}",
            flush=True,
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", nargs="+", default=["entrance_sim", "asl_5people_sequence"])
    parser.add_argument("--rtt-ms", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=None, help="play only this much")
    parser.add_argument("--quick", action="store_true", help="the ASL clip only (20 s)")
    parser.add_argument(
        "--plays", type=int, default=1, help="play each clip this many times, events pooled"
    )
    parser.add_argument("--label", default="this checkout")
    args = parser.parse_args()
    if args.quick:
        args.clips = ["asl_5people_sequence"]
    if missing := [c for c in args.clips if not (MEDIA / f"{c}.mp4").is_file()]:
        sys.exit(f"cannot run: {', '.join(missing)} missing from {MEDIA}")
    figures = asyncio.run(measure(args))
    figures["cpus"] = os.cpu_count()
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    labels = previous.get("labels", {})
    # Clips measured under this label before (another --clips run) are kept beside these.
    kept = labels.get(args.label, {}).get("clips", {})
    labels[args.label] = {**figures, "clips": {**kept, **figures["clips"]}}
    write_results(RESULTS, {"target": {"p95_ms": 800}, "labels": labels})


if __name__ == "__main__":
    main()
