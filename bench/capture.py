"""Capture throughput on this machine.

    python bench/capture.py [--seconds S] [--max-cameras N]

(a) Decode-only speed of 720p and 1080p H.264 files (OpenCV's FFmpeg back-end, read()).
(b) N cameras x 720p at 15 fps from a real RTSP server (GStreamer's, on 127.0.0.1), each read
    by its own CameraReader thread and taken by an asyncio consumer, as the pipeline does:
    the capture→hand-over lag (when the consumer gets a frame, against when the server's
    schedule says it was due) and whether any camera falls behind, for growing N. The largest
    N whose p95 lag stays under 250 ms with no camera behind is the result.

Prints a table and writes bench/results/capture.json. Needs ffmpeg and GStreamer's RTSP
server (Debian packages, as .ci/run installs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
from common import write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support

from streamwatch.capture import CameraReader, open_source
from streamwatch.config import CameraSettings
from tests.support.rtsp_server import (
    RtspServer,
    missing_rtsp_tools,
)

RESULTS = Path(__file__).parent / "results" / "capture.json"
# A real 1280x720 15 fps entrance clip, when the development media are beside the repository;
# synthetic test patterns decode faster than real pictures, so they are the fallback only.
MEDIA_CLIP = Path(__file__).resolve().parents[2] / "shared/media/videos/entrance_sim.mp4"
FPS = 15
LAG_LIMIT_MS = 250.0
# A camera that delivered fewer than this share of the frames the server sent fell behind.
BEHIND_RATIO = 0.95


def decode_fps(path: Path) -> float:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = 0
    started = time.perf_counter()
    while capture.read()[0]:
        frames += 1
    elapsed = time.perf_counter() - started
    capture.release()
    return frames / elapsed


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def clip_at(directory: Path, height: int, *, fps: int, elementary: bool) -> Path:
    """A 20 s H.264 clip of `height` lines: the real clip re-encoded, else a test pattern."""
    width = height * 16 // 9
    path = directory / f"{height}p{fps}.{'h264' if elementary else 'mp4'}"
    source = (
        ["-i", str(MEDIA_CLIP), "-vf", f"scale={width}:{height}", "-r", str(fps)]
        if MEDIA_CLIP.is_file()
        else ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}"]
    )
    output = ["-bsf:v", "h264_mp4toannexb", "-f", "h264"] if elementary else []
    encode = ["-t", "20", "-an", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0"]
    ffmpeg(*source, *encode, "-g", str(fps), "-pix_fmt", "yuv420p", *output, str(path))
    return path


async def cameras_run(url: str, cameras: int, seconds: float) -> dict[str, float]:
    """Read `cameras` streams for `seconds`; lag percentiles and the slowest camera's share."""
    lags_ms: list[float] = []
    delivered: list[float] = []

    async def consume(reader: CameraReader) -> None:
        assert reader.latest is not None
        first = await reader.latest.next()
        deadline = time.monotonic() + seconds
        frame = first
        while (now := time.monotonic()) < deadline:
            frame = await reader.latest.next(frame.sequence)
            due_s = first.monotonic_s + (frame.sequence - first.sequence) / FPS
            lags_ms.append((time.monotonic() - due_s) * 1000)
        delivered.append((frame.sequence - first.sequence) / ((now - first.monotonic_s) * FPS))

    settings = [CameraSettings(name=f"cam{i}", source=url) for i in range(cameras)]
    readers = [CameraReader(camera, open_source(camera)) for camera in settings]
    for reader in readers:
        await reader.__aenter__()
    try:
        await asyncio.gather(*(consume(reader) for reader in readers))
    finally:
        for reader in readers:
            await reader.__aexit__(None, None, None)
    # Lag beyond the best case: the frame that came earliest against its schedule sets zero.
    ordered = sorted(lag - min(lags_ms) for lag in lags_ms)
    return {
        "cameras": cameras,
        "lag_p50_ms": round(statistics.median(ordered), 1),
        "lag_p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "slowest_camera_delivery": round(min(delivered), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-cameras", type=int, default=64)
    args = parser.parse_args()
    if reason := missing_rtsp_tools():
        sys.exit(f"cannot run: {reason}")
    results: dict[str, object] = {
        "benchmark": "capture",
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "opencv": cv2.__version__,
    }
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        decode = {}
        results["content"] = MEDIA_CLIP.name if MEDIA_CLIP.is_file() else "testsrc2 pattern"
        print(f"content: {results['content']}")
        for height in (720, 1080):
            clip = clip_at(folder, height, fps=30, elementary=False)
            decode[f"{height}p"] = round(decode_fps(clip), 1)
            print(f"decode-only {height}p H.264: {decode[f'{height}p']} fps")
        results["decode_fps"] = decode

        clip = clip_at(folder, 720, fps=FPS, elementary=True)
        runs = []
        largest_ok = 0
        with RtspServer(clip, fps=FPS) as server:
            cameras = 1
            while cameras <= args.max_cameras:
                run = asyncio.run(cameras_run(server.url(), cameras, args.seconds))
                ok = (
                    run["lag_p95_ms"] < LAG_LIMIT_MS
                    and run["slowest_camera_delivery"] >= BEHIND_RATIO
                )
                runs.append({**run, "ok": ok})
                print(
                    f"{cameras:>3} cameras x 720p{FPS}: lag p50 {run['lag_p50_ms']} ms, "
                    f"p95 {run['lag_p95_ms']} ms, slowest camera got "
                    f"{run['slowest_camera_delivery']:.0%} of frames — {'ok' if ok else 'OVER'}"
                )
                if not ok:
                    break
                largest_ok = cameras
                cameras = cameras * 2 if cameras < 16 else cameras + 8
        results["rtsp_720p15"] = runs
        results["largest_ok_cameras"] = largest_ok
        print(f"largest N with p95 lag < {LAG_LIMIT_MS:.0f} ms and no camera behind: {largest_ok}")
    write_results(RESULTS, results)


if __name__ == "__main__":
    main()
