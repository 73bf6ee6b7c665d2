"""The cloud client's throughput and its own cost per call.

    python bench/client.py [--calls N] [--latency-ms MS] [--concurrency C] [--analyzer A]

(a) Throughput: `streamwatch emulate` runs as a separate process with MS (300) of injected
    latency per answer; one CloudAnalyzer with max_concurrent_calls = C (4) is driven by 2·C
    callers sending the same 1080p frame until N calls are done. With C calls in flight and
    each taking at least MS, the ceiling is C / MS (4 / 0.3 s ≈ 13.3 calls/s); the figure is
    calls/s and its ratio to that ceiling, with per-call latency percentiles.
    A call with nothing injected (one caller) is timed too: the JPEG's upload, the emulator's
    decoding and analysis and the answer cost that much on top of the injected latency, and
    explain most of the gap to the ceiling.
(b) Overhead: what the client itself spends per call on a 1080p frame, without the network:
    JPEG encoding (encode_for_api, quality 90) plus turning a two-face answer into a
    FaceAnalysis (interpret_reply: JSON, envelope, every field, coordinates mapped back).

Prints a table and writes bench/results/client.json. The frame is from ../shared/media when
present (a real 1280x720 clip, scaled to 1920x1080), the demo scene otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from common import median_ms, write_results
from pydantic import SecretStr

from streamwatch.analysis.client import CloudAnalyzer
from streamwatch.analysis.envelope import success_envelope
from streamwatch.analysis.geometric import GeometricAnalyzer, draw_mark
from streamwatch.analysis.imaging import encode_for_api
from streamwatch.analysis.model import Box
from streamwatch.analysis.transport import HttpReply
from streamwatch.analysis.verdict import interpret_reply
from streamwatch.analysis.wire import to_data
from streamwatch.capture.demo import DemoSource
from streamwatch.config.model import AnalyzerSettings

RESULTS = Path(__file__).parent / "results" / "client.json"
MEDIA_CLIP = (
    Path(__file__).resolve().parents[2] / "shared" / "media" / "videos" / "entrance_sim.mp4"
)
API_KEY = "sk-bench"


def frame_1080p() -> tuple[str, np.ndarray]:
    frame = None
    if MEDIA_CLIP.is_file():
        capture = cv2.VideoCapture(str(MEDIA_CLIP))
        capture.set(cv2.CAP_PROP_POS_MSEC, 24_000)  # a visitor stands in the scene
        _, frame = capture.read()
        capture.release()
        label = f"{MEDIA_CLIP.name} frame at 24 s"
    if frame is None:
        source = DemoSource()
        source.open()
        frame = [source.read() for _ in range(90)][-1]
        label = "demo scene"
    assert frame is not None
    # Bilinear, as this bench has always scaled it: cv2.INTER_CUBIC used to be passed where
    # resize takes `dst`, and OpenCV ignored it.
    scaled = cv2.resize(frame, (1920, 1080), interpolation=cv2.INTER_LINEAR)
    return f"{label}, scaled to 1920x1080", scaled


def overhead(frame: np.ndarray, repeat: int) -> dict[str, float]:
    # A realistic answer: two faces with every field of the contract (105 landmarks each).
    marked = np.full_like(frame, 128)
    draw_mark(marked, Box(500, 300, 220, 260))
    draw_mark(marked, Box(1200, 350, 180, 210))
    analysis = GeometricAnalyzer().analyze_sync(marked)
    body = json.dumps(success_envelope(to_data(analysis), request_id="r", log_id="L")).encode()
    encoded = encode_for_api(frame, jpeg_quality=90)
    reply = HttpReply(200, body, "application/json")
    parsed = interpret_reply(reply, encoded, analyzer="ailab")
    assert parsed.face_count == 2
    encode_ms = median_ms(lambda: encode_for_api(frame, jpeg_quality=90), repeat)
    parse_ms = median_ms(lambda: interpret_reply(reply, encoded, analyzer="ailab"), repeat)
    return {
        "encode_jpeg_1080p_ms": encode_ms,
        "parse_two_face_answer_ms": parse_ms,
        "overhead_per_call_ms": encode_ms + parse_ms,
        "jpeg_bytes": len(encoded.jpeg),
        "answer_bytes": len(body),
    }


async def start_emulator(
    latency_ms: float, analyzer: str
) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "streamwatch", "emulate", "--port", "0"),
        *("--analyzer", analyzer, "--latency-ms", str(latency_ms)),
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"STREAMWATCH_EMULATOR_KEY": API_KEY},
    )
    assert process.stderr is not None
    while True:
        line = (await asyncio.wait_for(process.stderr.readline(), 60)).decode()
        if not line:
            raise RuntimeError("the emulator stopped before serving")
        found = re.search(r"at (http://\S+) ", line)
        if found:
            return process, found.group(1)


async def throughput(
    frame: np.ndarray,
    *,
    calls: int,
    latency_ms: float,
    concurrency: int,
    analyzer: str,
    callers: int | None = None,
) -> dict[str, float]:
    callers = callers or 2 * concurrency
    process, url = await start_emulator(latency_ms, analyzer)
    try:
        settings = AnalyzerSettings(
            kind="ailab",
            url=url,
            api_key=SecretStr(API_KEY),
            max_concurrent_calls=concurrency,
            timeout_s=10.0,
        )
        async with CloudAnalyzer(settings) as client:
            await asyncio.gather(*(client.analyze(frame) for _ in range(concurrency)))  # warm-up
            before = client.stats
            latencies_s: list[float] = []
            remaining = calls

            async def caller() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    start = time.perf_counter()
                    await client.analyze(frame)
                    latencies_s.append(time.perf_counter() - start)

            start = time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(callers)))
            elapsed_s = time.perf_counter() - start
            after = client.stats
    finally:
        process.terminate()
        await process.wait()
    ceiling = concurrency / (latency_ms / 1000) if latency_ms else float("inf")
    rate = calls / elapsed_s
    latencies_s.sort()
    return {
        "calls": calls,
        "callers": callers,
        "max_concurrent_calls": concurrency,
        "injected_latency_ms": latency_ms,
        "elapsed_s": elapsed_s,
        "calls_per_s": rate,
        "ceiling_calls_per_s": ceiling,
        "ratio_to_ceiling": rate / ceiling,
        "call_latency_p50_ms": 1000 * latencies_s[len(latencies_s) // 2],
        "call_latency_p95_ms": 1000 * latencies_s[int(0.95 * (len(latencies_s) - 1))],
        "faces_found": after.ok - before.ok,
        "no_face": after.no_face - before.no_face,
        "failed": after.failed_total - before.failed_total,
        "retried": after.retried - before.retried,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--analyzer", choices=["local", "geometric"], default="local")
    parser.add_argument("--repeat", type=int, default=50, help="overhead samples")
    args = parser.parse_args()

    label, frame = frame_1080p()
    print(f"frame: {label}")
    costs = overhead(frame, args.repeat)
    rates = asyncio.run(
        throughput(
            frame,
            calls=args.calls,
            latency_ms=args.latency_ms,
            concurrency=args.concurrency,
            analyzer=args.analyzer,
        )
    )
    # What a call costs besides the injected latency: one caller, nothing injected.
    baseline = asyncio.run(
        throughput(frame, calls=50, latency_ms=0, concurrency=1, analyzer=args.analyzer, callers=1)
    )
    rates["round_trip_without_latency_p50_ms"] = baseline["call_latency_p50_ms"]
    print(
        f"throughput: {rates['calls_per_s']:.2f} calls/s with {args.concurrency} in flight and "
        f"{args.latency_ms:.0f} ms injected; ceiling {rates['ceiling_calls_per_s']:.2f}/s; "
        f"ratio {rates['ratio_to_ceiling']:.3f}; p50 {rates['call_latency_p50_ms']:.0f} ms, "
        f"p95 {rates['call_latency_p95_ms']:.0f} ms; failed {rates['failed']}"
    )
    print(
        "one call with nothing injected (encode, upload, emulator decode + analysis, answer): "
        f"p50 {rates['round_trip_without_latency_p50_ms']:.0f} ms"
    )
    print(
        f"overhead per call (1080p): encode {costs['encode_jpeg_1080p_ms']:.2f} ms + parse "
        f"{costs['parse_two_face_answer_ms']:.2f} ms = {costs['overhead_per_call_ms']:.2f} ms"
    )
    write_results(
        RESULTS,
        {
            "benchmark": "client",
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "frame": label,
            "emulator_analyzer": args.analyzer,
            "throughput": rates,
            "overhead_median_ms": costs,
            "overhead_repeat": args.repeat,
        },
    )


if __name__ == "__main__":
    main()
