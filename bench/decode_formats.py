"""What decoding costs with and without the colour conversion OpenCV always does.

    python bench/decode_formats.py [--clips NAME ...]   # default: entrance_sim

Issue 19 asked whether a decoder that hands over YUV (PyAV) would let the motion gate read
the Y plane and convert only the frames the detector sees. Per 720p frame of a development
clip, single-threaded decoding, process CPU time (so other work on the machine counts less
than in wall time), three rounds alternating the ways:
- OpenCV's VideoCapture (FFmpeg): decode and convert every frame to BGR — what capture does;
- PyAV, decode only, and decode plus the Y plane as an array (what a gate would read);
- PyAV, decode plus a BGR conversion (what every frame the detector sees would still need).
The difference between the first two rows is the most a YUV capture could save per frame.
Needs `pip install av` (not a dependency of streamwatch). Writes bench/results/decode_formats.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENCV_FFMPEG_THREADS", "1")

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from common import MEDIA_VIDEOS, clips_from_arguments, write_results

RESULTS = Path(__file__).parent / "results" / "decode_formats.json"
FRAMES = 600
ROUNDS = 3


def opencv_bgr(path: Path) -> float:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    try:
        return _per_frame_ms(lambda: capture.read()[0])
    finally:
        capture.release()


def pyav(path: Path, convert: Callable[[object], object]) -> float:
    import av  # optional: measured here only

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        frames = container.decode(stream)

        def one() -> bool:
            frame = next(frames, None)
            if frame is None:
                return False
            convert(frame)
            return True

        return _per_frame_ms(one)


def _per_frame_ms(read_one: Callable[[], bool]) -> float:
    start_s, count = time.process_time(), 0
    while count < FRAMES and read_one():
        count += 1
    return (time.process_time() - start_s) / max(count, 1) * 1000


WAYS: dict[str, Callable[[Path], float]] = {
    "opencv_bgr": opencv_bgr,
    "pyav_decode_only": lambda p: pyav(p, lambda f: None),
    "pyav_y_plane": lambda p: pyav(p, lambda f: np.frombuffer(f.planes[0], np.uint8)),  # type: ignore[attr-defined]
    "pyav_bgr": lambda p: pyav(p, lambda f: f.to_ndarray(format="bgr24")),  # type: ignore[attr-defined]
}


def main() -> None:
    clips = clips_from_arguments() or ["entrance_sim"]
    cv2.setNumThreads(1)
    results = {}
    for clip in clips:
        path = MEDIA_VIDEOS / f"{clip}.mp4"
        samples: dict[str, list[float]] = {way: [] for way in WAYS}
        for _ in range(ROUNDS):
            for way, measure in WAYS.items():
                samples[way].append(measure(path))
        figures = {way: round(statistics.median(s), 3) for way, s in samples.items()}
        saved = figures["opencv_bgr"] - figures["pyav_y_plane"]
        results[clip] = {
            "cpu_ms_per_frame": figures,
            "most_saved_per_frame_ms": round(saved, 3),
            "most_saved_share": round(saved / figures["opencv_bgr"], 3),
            "frames": FRAMES,
            "rounds": ROUNDS,
        }
        print(f"{clip}: " + ", ".join(f"{w} {ms:.2f} ms" for w, ms in figures.items()))
        share = results[clip]["most_saved_share"]
        print(f"  a YUV capture saves at most {saved:.2f} ms a frame ({share:.0%})")
    write_results(RESULTS, results)


if __name__ == "__main__":
    main()
