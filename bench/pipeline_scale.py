"""How many busy 720p cameras one `streamwatch run` holds, and what it costs over decoding them.

    python bench/pipeline_scale.py [--cameras 1,2,4,8,12] [--seconds 60] [--profile]
                                   [--clip worst|entrance|both] [--quick] [--label NAME]

N x 720p15 H.264 RTSP streams from a real GStreamer RTSP server (one shared, looping stream),
read by one `streamwatch run` with the local analyzer and a JSON-lines sink (overlay and status
servers on, as deployed). Per N, over a steady window after every camera streams:
- streamwatch's CPU (% of one core, /proc/PID/stat) and per thread group (/proc/PID/task, the
  Python threads named by py-spy),
- the decode floor: `ffmpeg -rtsp_transport tcp -i URL -f null -` on the same N streams, CPU the
  same way, and the ratio,
- frames dropped (streamwatch_camera_frames_dropped: a frame replaced before the gate took it)
  and frames read per camera per second,
- capture→gate-done p95 (streamwatch_gate_latency_seconds, interpolated in its bucket),
- calls made, answers remembered instead of a call, and appearance signatures computed a
  second (SFace, ~15 ms of CPU each: one for every new face, which the ASL clip makes every
  2.2 s on each camera),
- RSS, and over all N the RSS per added camera (least squares).
Clips: "worst" is asl_5people_sequence.mp4 stretched to 1280x720 at 15 fps (faces in view all
the time); "entrance" is entrance_sim.mp4 (faces ~40 % of the time).

`--profile` records py-spy (`--threads --nonblocking`) for a second window on the N = 8 run (or
the largest N asked) and keeps the top functions per thread group in the results; the raw
collapsed stacks go to bench/results/profiles/. `--quick`: N = 1, 2 for 15 s, to try it out.
Each label's figures are kept in bench/results/pipeline_scale.json (before/after a change);
the streamwatch measured is the one on PYTHONPATH (unset: this checkout's), so another
commit's figures can be taken with this script.
Every process started here is stopped on any exit (SIGINT and SIGTERM included).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import write_labelled_results
from procstat import (
    TICKS_PER_S,
    CpuSample,
    cpu_by_group,
    process_ticks,
    py_spy,
    python_thread_names,
    rss_mb,
    thread_ticks,
    top_functions,
)
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support

from tests.support.ports import free_port
from tests.support.rtsp_server import RtspServer, missing_rtsp_tools

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "pipeline_scale.json"
PROFILES = Path(__file__).parent / "results" / "profiles"
MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
CLIPS = {"worst": MEDIA / "asl_5people_sequence.mp4", "entrance": MEDIA / "entrance_sim.mp4"}
FPS = 15
# A camera holds its rate when it reads this share of the frames sent and drops under 5 %.
HELD_FPS = 0.95 * FPS
HELD_DROPPED = 0.05
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
# ffmpeg probes a stream for ~5 s before it decodes at its steady rate.
FLOOR_WARMUP_S = 7.0
# The gate decisions taken after the face detector ran on the frame.
DETECTED = ("no_face", "unfit", "saved", "candidate")


def encode_clip(source: Path, directory: Path) -> Path:
    """The clip as 720p15 H.264 (Annex B), a camera's usual GOP of 2 s, no B-frames."""
    path = directory / f"{source.stem}-720p{FPS}.h264"
    subprocess.run(
        [
            *("ffmpeg", "-loglevel", "error", "-y", "-i", str(source)),
            *("-vf", "scale=1280:720,setsar=1", "-r", str(FPS), "-an", "-c:v", "libx264"),
            *("-preset", "veryfast", "-bf", "0", "-g", str(2 * FPS), "-pix_fmt", "yuv420p"),
            *("-bsf:v", "h264_mp4toannexb", "-f", "h264", str(path)),
        ],
        check=True,
    )
    return path


@contextlib.contextmanager
def stopped_on_exit(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """SIGTERM, then SIGKILL if it lingers: on any exit of the block."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def streamwatch_config(url: str, cameras: int, state_dir: Path, status_port: int) -> str:
    camera_tables = "".join(
        f'[[cameras]]\nname = "cam{i}"\nsource = "{url}"\n\n' for i in range(cameras)
    )
    return (
        f'node = "bench"\nstate_dir = "{state_dir}"\n\n{camera_tables}'
        '[analyzer]\nkind = "local"\n\n'
        f'[[sinks]]\nkind = "jsonl"\npath = "{state_dir / "events.jsonl"}"\n\n'
        "[overlay]\nweb = true\nweb_port = 0\n\n"
        f"[status]\nport = {status_port}\n"
    )


def streamwatch_env() -> dict[str, str]:
    """The environment of the measured streamwatch: PYTHONPATH's, else this checkout's."""
    return {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(REPO)}


def scrape(status_port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    """/metrics as {sample name: [(labels, value)]}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{status_port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def total(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **match: str) -> float:
    """The sum of a metric's samples over the labels not in `match`."""
    return sum(
        value
        for labels, value in samples.get(name, [])
        if all(labels.get(k) == v for k, v in match.items())
    )


def wait_streaming(process: subprocess.Popen[bytes], status_port: int, cameras: int) -> float:
    """Seconds until every camera is up with frames; raises when it does not come."""
    started_s = time.monotonic()
    while time.monotonic() - started_s < STARTUP_TIMEOUT_S:
        if process.poll() is not None:
            raise RuntimeError(f"streamwatch exited with {process.returncode} before streaming")
        with contextlib.suppress(OSError):
            up = scrape(status_port).get("streamwatch_camera_up", [])
            if len(up) == cameras and all(value == 1.0 for _, value in up):
                return time.monotonic() - started_s
        time.sleep(0.2)
    raise RuntimeError(f"{cameras} cameras not all streaming after {STARTUP_TIMEOUT_S:.0f} s")


def gate_p95_ms(before: dict[str, Any], after: dict[str, Any]) -> float | None:
    """p95 of capture→gate-done over the window, interpolated in its bucket (as Prometheus'
    histogram_quantile); None when the metric is missing (an older streamwatch)."""
    name = "streamwatch_gate_latency_seconds_bucket"

    def cumulative(samples: dict[str, Any]) -> dict[float, float]:
        by_bound: dict[float, float] = {}
        for labels, value in samples.get(name, []):
            bound = float(labels["le"])
            by_bound[bound] = by_bound.get(bound, 0.0) + value
        return by_bound

    first, last = cumulative(before), cumulative(after)
    if not last:
        return None
    bounds = sorted(last)
    counts = [last[b] - first.get(b, 0.0) for b in bounds]
    if counts[-1] <= 0:
        return None
    needed = 0.95 * counts[-1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= needed:
            if bound == float("inf"):
                return round(lower_bound * 1000, 1)  # beyond the last bound: at least that
            share = (needed - lower_count) / max(count - lower_count, 1e-9)
            return round((lower_bound + share * (bound - lower_bound)) * 1000, 1)
        lower_bound, lower_count = bound, count
    return None


def sample(pid: int) -> CpuSample:
    return CpuSample(time.monotonic(), process_ticks(pid), thread_ticks(pid))


def cpu_pct(first: CpuSample, last: CpuSample) -> float:
    window_s = last.monotonic_s - first.monotonic_s
    return round(100 * (last.ticks - first.ticks) / TICKS_PER_S / window_s, 1)


def measure_streamwatch(
    url: str, cameras: int, *, seconds: float, warmup_s: float, profile_to: Path | None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pipeline-scale-") as directory:
        state_dir = Path(directory)
        status_port = free_port()
        config = state_dir / "streamwatch.toml"
        config.write_text(streamwatch_config(url, cameras, state_dir, status_port))
        command = [sys.executable, "-m", "streamwatch", "--log-level", "warning", "run"]
        process = subprocess.Popen(
            [*command, "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(state_dir / "streamwatch.log").open("wb"),
            # Not in the checkout: `-m` would import the streamwatch of the working directory.
            cwd=state_dir,
            env=streamwatch_env(),
        )
        with stopped_on_exit(process):
            startup_s = wait_streaming(process, status_port, cameras)
            time.sleep(warmup_s)
            metrics_before, cpu_before = scrape(status_port), sample(process.pid)
            time.sleep(seconds)
            cpu_after, metrics_after = sample(process.pid), scrape(status_port)
            rss = rss_mb(process.pid)
            names = python_thread_names(process.pid)
            profile = None
            if profile_to is not None:
                profile = record_profile(process.pid, seconds, profile_to)
            if process.poll() is not None:
                raise RuntimeError(f"streamwatch exited with {process.returncode} while measured")
    window_s = cpu_after.monotonic_s - cpu_before.monotonic_s

    def delta(name: str, **match: str) -> float:
        return total(metrics_after, name, **match) - total(metrics_before, name, **match)

    frames = delta("streamwatch_camera_frames_total")
    dropped = delta("streamwatch_camera_frames_dropped_total")
    figures: dict[str, Any] = {
        "startup_s": round(startup_s, 1),
        "window_s": round(window_s, 1),
        "cpu_pct": cpu_pct(cpu_before, cpu_after),
        "cpu_by_thread_pct": cpu_by_group(cpu_before, cpu_after, names),
        "fps_per_camera": round(frames / window_s / cameras, 2),
        "frames_dropped_pct": round(100 * dropped / frames, 1) if frames else None,
        "gate_p95_ms": gate_p95_ms(metrics_before, metrics_after),
        "detections_per_s": round(
            sum(delta("streamwatch_gate_frames_total", decision=d) for d in DETECTED) / window_s, 1
        ),
        "calls_made": delta("streamwatch_camera_calls_total", outcome="made"),
        "answers_remembered": delta("streamwatch_gate_frames_total", decision="remembered"),
        "signatures_per_s": round(delta("streamwatch_signatures_total") / window_s, 2),
        "rss_mb": rss,
        "threads": len(cpu_after.threads),
    }
    if profile is not None:
        figures["profile"] = profile
    return figures


def record_profile(pid: int, seconds: float, raw_path: Path) -> dict[str, Any]:
    """py-spy over `seconds` (after the measured window: its own cost is not in the figures)."""
    tool = py_spy()
    assert tool is not None
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            *(tool, "record", "--threads", "--nonblocking", "--format", "raw"),
            *("--duration", str(int(seconds)), "--pid", str(pid), "--output", str(raw_path)),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return {"raw": str(raw_path.relative_to(Path(__file__).parent)), **top_functions(raw_path)}


def measure_floor(url: str, cameras: int, *, seconds: float) -> float:
    """% of a core that plain ffmpeg spends decoding the same N streams."""
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url]
    with contextlib.ExitStack() as stack:
        decoders = [
            stack.enter_context(stopped_on_exit(subprocess.Popen([*command, "-f", "null", "-"])))
            for _ in range(cameras)
        ]
        time.sleep(FLOOR_WARMUP_S)
        started_s, before = time.monotonic(), [process_ticks(d.pid) for d in decoders]
        time.sleep(seconds)
        after, window_s = [process_ticks(d.pid) for d in decoders], time.monotonic() - started_s
        if any(d.poll() is not None for d in decoders):
            raise RuntimeError("an ffmpeg decoder exited during the window")
    return round(100 * (sum(after) - sum(before)) / TICKS_PER_S / window_s, 1)


def rss_per_camera_mb(runs: list[dict[str, Any]]) -> float | None:
    """Least-squares slope of RSS over N."""
    points = [(float(r["cameras"]), float(r["streamwatch"]["rss_mb"])) for r in runs]
    if len(points) < 2:
        return None
    mean_n = sum(n for n, _ in points) / len(points)
    mean_rss = sum(rss for _, rss in points) / len(points)
    spread = sum((n - mean_n) ** 2 for n, _ in points)
    return round(sum((n - mean_n) * (rss - mean_rss) for n, rss in points) / spread, 1)


def run_clip(clip: str, h264: Path, args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    profile_n = 8 if 8 in args.cameras else max(args.cameras)
    with RtspServer(h264, fps=FPS) as server:
        for cameras in args.cameras:
            load_1min = round(os.getloadavg()[0], 2)
            profile_to = None
            if args.profile and cameras == profile_n:
                label = re.sub(r"[^\w.-]+", "-", args.label).strip("-")
                profile_to = PROFILES / f"{label}-{clip}-n{cameras}.raw"
            streamwatch = measure_streamwatch(
                server.url(),
                cameras,
                seconds=args.seconds,
                warmup_s=args.warmup_s,
                profile_to=profile_to,
            )
            floor = measure_floor(server.url(), cameras, seconds=args.seconds)
            held = (
                streamwatch["fps_per_camera"] >= HELD_FPS
                and (streamwatch["frames_dropped_pct"] or 0) < 100 * HELD_DROPPED
            )
            run = {
                "cameras": cameras,
                "load_1min_before": load_1min,
                "streamwatch": streamwatch,
                "decode_floor_cpu_pct": floor,
                "ratio": round(streamwatch["cpu_pct"] / floor, 2) if floor else None,
                "held_15fps": held,
            }
            runs.append(run)
            print(
                f"{clip:>8} N={cameras:<2} streamwatch {streamwatch['cpu_pct']:5.1f} % "
                f"floor {floor:5.1f} % ratio {run['ratio']}x dropped "
                f"{streamwatch['frames_dropped_pct']} % fps {streamwatch['fps_per_camera']} "
                f"gate p95 {streamwatch['gate_p95_ms']} ms RSS {streamwatch['rss_mb']} MB "
                f"(load before {load_1min})",
                flush=True,
            )
            print(f"         by thread: {streamwatch['cpu_by_thread_pct']}", flush=True)
    held_ns = [r["cameras"] for r in runs if r["held_15fps"]]
    return {
        "source": CLIPS[clip].name,
        "runs": runs,
        "rss_per_camera_mb": rss_per_camera_mb(runs),
        "largest_n_held": max(held_ns, default=0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", default="1,2,4,8,12", help="comma-separated N")
    parser.add_argument("--seconds", type=float, default=60.0, help="steady window per run")
    parser.add_argument("--warmup-s", type=float, default=5.0, help="after every camera streams")
    parser.add_argument("--clip", choices=("worst", "entrance", "both"), default="both")
    parser.add_argument("--profile", action="store_true", help="py-spy on the N = 8 run")
    parser.add_argument("--quick", action="store_true", help="N = 1, 2 for 15 s")
    parser.add_argument("--label", default="this checkout", help="key of these figures")
    args = parser.parse_args()
    if args.quick:
        args.cameras, args.seconds, args.warmup_s = "1,2", 15.0, 3.0
    args.cameras = [int(n) for n in args.cameras.split(",")]
    if reason := missing_rtsp_tools():
        sys.exit(f"cannot run: {reason}")
    if args.profile and py_spy() is None:
        print("--profile skipped: py-spy is not installed (pip install py-spy)")
        args.profile = False
    clips = ["worst", "entrance"] if args.clip == "both" else [args.clip]
    if missing := [str(CLIPS[c]) for c in clips if not CLIPS[c].is_file()]:
        sys.exit(f"cannot run: {', '.join(missing)} missing (the development media)")
    # SIGTERM unwinds like Ctrl-C, so every server, decoder and streamwatch is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    figures: dict[str, Any] = {
        "streamwatch": streamwatch_env()["PYTHONPATH"],
        "cpus": os.cpu_count(),
        "seconds": args.seconds,
        "clips": {},
    }
    with tempfile.TemporaryDirectory(prefix="pipeline-scale-clips-") as directory:
        for clip in clips:
            h264 = encode_clip(CLIPS[clip], Path(directory))
            figures["clips"][clip] = run_clip(clip, h264, args)
    write_labelled_results(RESULTS, args.label, figures)


if __name__ == "__main__":
    main()
