"""Cost of each stage of the path of a frame, on this machine, per frame.

    python bench/pipeline_stages.py [--repeat N]

Prints a table and writes bench/results/pipeline_stages.json. Media from ../shared/media are
used when present (a real 1280x720 clip); the demo scene otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import time
from pathlib import Path

import cv2
import numpy as np
from common import median_ms, write_results

from streamwatch.analysis.imaging import encode_for_api
from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.model import Box
from streamwatch.capture.demo import DemoSource
from streamwatch.capture.frame import Frame
from streamwatch.config import SelectionSettings
from streamwatch.overlay.draw import draw_scene
from streamwatch.overlay.scene import Scene
from streamwatch.selection import MotionGate, face_sharpness

RESULTS = Path(__file__).parent / "results" / "pipeline_stages.json"
MEDIA_CLIP = (
    Path(__file__).resolve().parents[2] / "shared" / "media" / "videos" / "entrance_sim.mp4"
)


def frames_to_measure() -> tuple[str, list[np.ndarray]]:
    if MEDIA_CLIP.is_file():
        capture = cv2.VideoCapture(str(MEDIA_CLIP))
        capture.set(cv2.CAP_PROP_POS_MSEC, 24_000)  # a visitor stands in the scene (truth JSON)
        # The stubs say read() always gives an image; at the end of the clip it gives None.
        frames: list[np.ndarray | None] = [capture.read()[1] for _ in range(30)]
        capture.release()
        return f"{MEDIA_CLIP.name} (1280x720)", [f for f in frames if f is not None]
    source = DemoSource()
    source.open()
    frames = [source.read() for _ in range(90)][60:]
    return "demo scene (960x540)", [f for f in frames if f is not None]


async def measure(repeat: int) -> dict[str, float]:
    label, images = frames_to_measure()
    image = images[0]
    frame = Frame("bench", 1, time.time(), time.monotonic(), image)
    motion = MotionGate(SelectionSettings())
    demo = DemoSource()
    demo.open()
    figures: dict[str, float] = {}
    figures["demo_frame_generation_ms"] = median_ms(demo.read, repeat)
    figures["motion_gate_ms"] = median_ms(lambda: motion.moved(frame.image), repeat)
    face_box = Box(frame.width_px * 0.4, frame.height_px * 0.3, 160, 160)
    figures["face_sharpness_ms"] = median_ms(lambda: face_sharpness(image, face_box), repeat)
    async with LocalAnalyzer() as analyzer:
        figures["local_analysis_ms"] = median_ms(lambda: analyzer.analyze_sync(image), repeat)
        analysis = analyzer.analyze_sync(image)
    figures["api_jpeg_encoding_ms"] = median_ms(
        lambda: encode_for_api(image, jpeg_quality=90), repeat
    )
    scene = Scene(frame, (), (), 15.0, time.monotonic())
    figures["overlay_draw_960_ms"] = median_ms(
        lambda: draw_scene(scene, now_monotonic_s=time.monotonic(), width_px=960), repeat
    )
    print(f"frames: {label}; faces found by the local analyzer: {analysis.face_count}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.repeat))
    for name, value in figures.items():
        print(f"{name:<28} {value:8.2f}")
    write_results(
        RESULTS,
        {
            "benchmark": "pipeline_stages",
            "machine": platform.machine(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "repeat": args.repeat,
            "median_ms": figures,
        },
    )


if __name__ == "__main__":
    main()
