"""What the overlay costs on this machine.

    python bench/overlay.py [--repeat N] [--seconds S]

(a) Per 720p frame: drawing the overlay (three faces with labels and landmarks, five recent
    events, the banner) at the frame's own width and at the stream's default width, with and
    without face pixelation, and encoding the result as JPEG (quality 80): the medians.
(b) The web live view on 127.0.0.1 fed with 720p frames, watched through its MJPEG stream by
    one and then three viewers: the frames per second each viewer receives, how many JPEG
    encodes per second the server makes (viewers share them), and the process's CPU use — at
    the default stream rate (10 fps), and asking for 30 and 60 fps, to see how far it goes.

Frames come from ../shared/media/videos/entrance_sim.mp4 (a 720p entrance camera) when it is
there, else the built-in demo scene scaled to 720p. Prints a table, writes
bench/results/overlay.json. The machine is shared: compare figures within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import cv2
import numpy as np
from common import median_ms, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.model import Box, Face, Mask, Point, Pupil
from streamwatch.capture.demo import DemoSource
from streamwatch.capture.frame import Frame
from streamwatch.config.serving import OverlaySettings
from streamwatch.events.model import Event
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.draw import DrawOptions, draw_scene
from streamwatch.overlay.scene import Scene
from streamwatch.overlay.shared_jpeg import encode_jpeg
from streamwatch.overlay.web import serve_live_view
from streamwatch.tracking.track import Track

RESULTS = Path(__file__).parent / "results" / "overlay.json"
MEDIA_CLIP = (
    Path(__file__).resolve().parents[2] / "shared" / "media" / "videos" / "entrance_sim.mp4"
)
CLIP_SECONDS = (8.0, 24.0, 38.0)  # moments with a person standing in the corridor
FRAME_PX = (1280, 720)
CAMERA_FPS = 15.0
JPEG_QUALITY = 80


def real_frames() -> tuple[str, list[np.ndarray]]:
    if MEDIA_CLIP.is_file():
        capture = cv2.VideoCapture(str(MEDIA_CLIP))
        frames = []
        for second in CLIP_SECONDS:
            capture.set(cv2.CAP_PROP_POS_MSEC, second * 1000)
            ok, image = capture.read()
            if ok:
                frames.append(image)
        capture.release()
        if frames:
            return MEDIA_CLIP.name, frames
    demo = DemoSource()
    demo.open()
    frames = []
    for _ in range(int(6 * CAMERA_FPS)):
        demo_image = demo.read()
        if demo_image is not None:
            frames.append(cv2.resize(demo_image, FRAME_PX))
    return "demo scene scaled to 720p", frames[-3:]


def three_tracks(image: np.ndarray, detected: tuple[Face, ...]) -> tuple[Track, ...]:
    """The faces found, topped up with made-up ones to three, each fully described."""
    width = image.shape[1]
    filler = [
        Face(Box(x, 200, 110, 140), 0.9, landmarks_px=(Point(x + 40, 260),))
        for x in (100.0, width - 250.0, width / 2)
    ]
    faces = [*detected, *filler][:3]
    tracks = []
    for index, face in enumerate(faces):
        left, top = face.box_px.left, face.box_px.top
        described = Face(
            face.box_px,
            face.probability,
            landmarks_px=face.landmarks_px,
            pupils_px=(Pupil(left + 30, top + 50, 4), Pupil(left + 70, top + 50, 4)),
            age=30 + index,
            mask=(Mask.NONE, Mask.WORN, Mask.INCORRECT)[index],
        )
        tracks.append(
            Track(
                f"bench-{index}",
                "bench",
                described,
                0.0,
                time.monotonic(),
                time.time(),
                3,
                (40.0, 0.0),
            )
        )
    return tuple(tracks)


def recent_events() -> tuple[Event, ...]:
    kinds = ("face.new", "face.new", "face.left", "face.mask_incorrect", "face.maskless")
    now = datetime.now(UTC)
    return tuple(
        Event.create(kind, node="bench", camera="bench", subject="bench-1", data={}, time=now)
        for kind in kinds
    )


def scene_of(image: np.ndarray, tracks: tuple[Track, ...], sequence: int) -> Scene:
    # Every frame different, as a camera's are, so that distinct JPEGs count the encodes.
    image = image.copy()
    cv2.putText(image, str(sequence), (600, 40), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
    frame = Frame("bench", sequence, time.time(), time.monotonic(), image)
    return Scene(frame, tracks, recent_events(), CAMERA_FPS, frame.monotonic_s)


def drawing_costs(scene: Scene, repeat: int) -> dict[str, float]:
    costs: dict[str, float] = {}
    now = time.monotonic
    full = DrawOptions(show_landmarks=True)
    private = DrawOptions(show_landmarks=True, blur_faces=True)
    for width in (1280, 960):
        drawn = draw_scene(scene, now_monotonic_s=now(), options=full, width_px=width)

        def draw_full(w: int = width) -> np.ndarray:
            return draw_scene(scene, now_monotonic_s=now(), options=full, width_px=w)

        def draw_blurred(w: int = width) -> np.ndarray:
            return draw_scene(scene, now_monotonic_s=now(), options=private, width_px=w)

        def encode(d: np.ndarray = drawn) -> bytes:
            return encode_jpeg(d, JPEG_QUALITY)

        costs[f"draw_{width}_ms"] = median_ms(draw_full, repeat)
        costs[f"draw_{width}_blurred_ms"] = median_ms(draw_blurred, repeat)
        costs[f"jpeg_{width}_ms"] = median_ms(encode, repeat)
        costs[f"total_{width}_ms"] = round(costs[f"draw_{width}_ms"] + costs[f"jpeg_{width}_ms"], 2)
    return costs


async def camera(
    board: SceneBoard, frames: list[np.ndarray], tracks: list[tuple[Track, ...]], fps: float
) -> None:
    sequence = 0
    next_s = time.monotonic()
    while True:
        index = sequence % len(frames)
        board.publish(scene_of(frames[index], tracks[index], sequence))
        sequence += 1
        next_s += 1 / fps
        await asyncio.sleep(max(0.0, next_s - time.monotonic()))  # the camera's own pace


async def viewer(url: str, seconds: float, seen: list[str]) -> int:
    """Watch the stream for `seconds`; the number of pictures received."""
    received = 0
    timeout = aiohttp.ClientTimeout(total=None, sock_read=10)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as response:
        reader = aiohttp.MultipartReader.from_response(response)
        end_s = time.monotonic() + seconds
        while time.monotonic() < end_s:
            part = await reader.next()
            assert isinstance(part, aiohttp.BodyPartReader)
            seen.append(hashlib.blake2b(await part.read(), digest_size=8).hexdigest())
            received += 1
    return received


async def streaming_run(
    frames: list[np.ndarray],
    tracks: list[tuple[Track, ...]],
    *,
    stream_fps: float,
    viewers: int,
    seconds: float,
) -> dict[str, float]:
    board = SceneBoard(["bench"])
    settings = OverlaySettings(web_port=0, stream_fps=stream_fps, jpeg_quality=JPEG_QUALITY)
    async with serve_live_view(board, settings) as server, asyncio.TaskGroup() as tasks:
        feeding = tasks.create_task(camera(board, frames, tracks, max(CAMERA_FPS, stream_fps)))
        url = server.url + "stream/bench.mjpg"
        seen: list[str] = []
        usage_before, wall_before = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        counts = await asyncio.gather(*(viewer(url, seconds, seen) for _ in range(viewers)))
        usage_after, wall_s = (
            resource.getrusage(resource.RUSAGE_SELF),
            time.monotonic() - wall_before,
        )
        feeding.cancel()
    cpu_s = (usage_after.ru_utime - usage_before.ru_utime) + (
        usage_after.ru_stime - usage_before.ru_stime
    )
    return {
        "stream_fps_asked": stream_fps,
        "viewers": viewers,
        "fps_per_viewer_min": round(min(counts) / wall_s, 1),
        "fps_per_viewer_mean": round(statistics.mean(counts) / wall_s, 1),
        "encodes_per_s": round(len(set(seen)) / wall_s, 1),
        "process_cpu_percent": round(100 * cpu_s / wall_s),
    }


async def main_async(repeat: int, seconds: float) -> dict[str, object]:
    content, images = real_frames()
    print(f"frames: {content}, {images[0].shape[1]}x{images[0].shape[0]}")
    async with LocalAnalyzer() as detector:
        tracks = [three_tracks(image, detector.analyze_sync(image).faces) for image in images]
    costs = drawing_costs(scene_of(images[0], tracks[0], 0), repeat)
    for name, value in costs.items():
        print(f"  {name:<24} {value:7.2f} ms")
    runs = []
    for stream_fps in (10.0, 30.0, 60.0):
        for viewers in (1, 3):
            run = await streaming_run(
                images, tracks, stream_fps=stream_fps, viewers=viewers, seconds=seconds
            )
            runs.append(run)
            print(
                f"  MJPEG asked {stream_fps:>4.0f} fps, {viewers} viewer(s): "
                f"{run['fps_per_viewer_min']:5.1f} fps each (slowest), "
                f"{run['encodes_per_s']:5.1f} encodes/s, CPU {run['process_cpu_percent']}%"
            )
    return {
        "benchmark": "overlay",
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "opencv": cv2.__version__,
        "content": content,
        "frame_px": list(images[0].shape[1::-1]),
        "faces_drawn": 3,
        "repeat": repeat,
        "per_frame_median_ms": costs,
        "mjpeg_runs": runs,
        "stream_seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    results = asyncio.run(main_async(args.repeat, args.seconds))
    write_results(RESULTS, results)


if __name__ == "__main__":
    main()
