"""LocalAnalyzer: the Analyzer protocol on the device's CPU, no network, no API key.

Two entry points share its detectors:
- `detect` / `detect_sync`: the face gate. YuNet: boxes, probabilities and the five native
  points (~6 ms of CPU for a 720p frame, less for a region of it: detector.py), plus the
  mask reader's reading when it is confident (mask_reader.py: a CNN's none or worn, the
  feature classifier's `incorrect`; ~1.5 ms a face; an unsure reading is left out, None),
  so the gate notices a mask taken off without a paid call and does not flip with a face half
  turned away.
- `analyze` / `analyze_sync`: every field the device can estimate, per face (`describe`: of
  the faces the gate already found in that image, without a second detection): the five
  points, pupils, pose, smile, mask (the classifier's state, sure or not), qualities and
  the SFace signature (~20 ms a face on top of detection; left out with `signatures=False`,
  for a pipeline that computes them itself, only for the tracks due one:
  tracking/signature_schedule.py). Gender, age, beauty, hat and glasses stay None: no model
  small enough ships for them (README, "Dependencies").

The work runs on the analyzer's own `workers` threads (default: the cores, at most
MAX_DEFAULT_WORKERS), each with a YuNet of its own: cameras detect side by side instead of
queueing behind one network, and the workers ration the device's CPU among every camera's
detections and analyses (the cloud's call budget plays no part in it). OpenCV and ONNX
Runtime run single-threaded meanwhile (`opencv_threads`, onnx_runtime.py): the workers are the
parallelism, and a 720p detection costs 5.95 ms of the process's CPU against 6.64 with OpenCV
on its two threads, which spin between the pieces they share. Eight cameras on two cores: 327
detections a second against 145 behind one lock (bench/gate_detection.py). The one SFace
(10.7 MB, on OpenCV: ONNX Runtime runs it slower) stays shared behind its lock.

The networks are not thread-safe: a detector is taken from the free ones, and a signature
model's lock held, in the thread that does the work, and given back there on any exit. (An
asyncio lock around the thread would be released when the awaiting task is cancelled, while
its thread still runs inside the network.) A job cancelled before a worker took it never runs.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

import cv2
import numpy as np

from streamwatch.analysis.analyzer import LOCAL_ANALYZER, AnalyzerError
from streamwatch.analysis.local.chip import aligned_chip
from streamwatch.analysis.local.detector import DEFAULT_SIZE, DetectorSize, FaceDetector
from streamwatch.analysis.local.features import expression, eye_distance_px, pupils
from streamwatch.analysis.local.mask import MIN_EYE_DISTANCE_PX, measure_mask
from streamwatch.analysis.local.mask_classifier import IncorrectBy
from streamwatch.analysis.local.mask_reader import MaskReader
from streamwatch.analysis.local.models import quiet_opencv
from streamwatch.analysis.local.pose import estimate_pose
from streamwatch.analysis.local.quality import qualities
from streamwatch.analysis.local.signature import SignatureModel
from streamwatch.analysis.model import Box, Face, FaceAnalysis, Signature

MIN_IMAGE_SIDE_PX = 8
YUNET_POINTS = ("right eye", "left eye", "nose tip", "right mouth corner", "left mouth corner")
# Past four workers a box has better uses for its cores than more cameras' detections at once.
MAX_DEFAULT_WORKERS = 4

T = TypeVar("T")


def default_workers() -> int:
    """The cores this process may run on, at most MAX_DEFAULT_WORKERS."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS))


class LocalAnalyzer:
    """On-device analysis. Models load and workers start in `__aenter__`; at most `workers`
    calls run at once (None: `default_workers()`), each detection on a detector of its own.

    `size`: how big YuNet sees frames (detector.py; the call policy's min_face_px).
    `opencv_threads`: OpenCV's threads while the analyzer runs (restored after); None leaves
    OpenCV's own choice.
    `signatures`: whether `analyze` gives each face its SFace signature (`signature` always
    does).
    """

    name = LOCAL_ANALYZER

    def __init__(
        self,
        min_face_probability: float = 0.6,
        *,
        size: DetectorSize = DEFAULT_SIZE,
        workers: int | None = None,
        opencv_threads: int | None = 1,
        incorrect_by: IncorrectBy = IncorrectBy.LEARNED,
        signatures: bool = True,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"a local analyzer needs at least one worker, got {workers}")
        self._min_face_probability = min_face_probability
        self.size = size
        self.workers = workers or default_workers()
        self._opencv_threads = opencv_threads
        self._incorrect_by = incorrect_by
        self._with_signatures = signatures
        # The detectors no thread is inside: taken and given back by the thread that uses one.
        self._free: queue.SimpleQueue[FaceDetector] = queue.SimpleQueue()
        self._executor: ThreadPoolExecutor | None = None
        self._threads_before: int | None = None
        self._signatures: SignatureModel | None = None
        self._masks: MaskReader | None = None
        # Held by the thread inside the signature network (every worker shares it).
        self._signature_lock = threading.Lock()

    async def __aenter__(self) -> LocalAnalyzer:
        quiet_opencv()
        detectors = [
            FaceDetector(self._min_face_probability, self.size) for _ in range(self.workers)
        ]
        self._signatures = SignatureModel()
        self._masks = MaskReader(self._incorrect_by)
        for detector in detectors:
            self._free.put(detector)
        if self._opencv_threads is not None:
            self._threads_before = cv2.getNumThreads()
            cv2.setNumThreads(self._opencv_threads)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="local-analyzer")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        executor, self._executor = self._executor, None
        try:
            if executor is not None:
                # Jobs not started are dropped; the loop goes on while the running ones end.
                await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        finally:
            if self._threads_before is not None:
                cv2.setNumThreads(self._threads_before)
                self._threads_before = None
            while not self._free.empty():
                self._free.get_nowait()
            self._signatures = None
            self._masks = None

    async def detect(self, image: np.ndarray, region: Box | None = None) -> FaceAnalysis:
        return await self._on_a_worker(self.detect_sync, image, region)

    async def analyze(self, image: np.ndarray) -> FaceAnalysis:
        return await self._on_a_worker(self.analyze_sync, image)

    async def describe(self, image: np.ndarray, faces: Sequence[Face]) -> FaceAnalysis:
        return await self._on_a_worker(self.describe_sync, image, faces)

    async def signature(self, image: np.ndarray, face: Face) -> Signature | None:
        return await self._on_a_worker(lambda: self.signature_sync(image, face))

    async def _on_a_worker(self, work: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            raise RuntimeError("LocalAnalyzer used outside `async with LocalAnalyzer() as ...`")
        # Cancelling the await cancels a job still queued; one running finishes in its thread.
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    def detect_sync(self, image: np.ndarray, region: Box | None = None) -> FaceAnalysis:
        """The face gate: boxes, probabilities, five points, the head's pose and the
        confident mask reading.

        `region`: where in the image to look (None: everywhere; FaceDetector.detect)."""
        self._models()
        _check_image(image)
        faces = [self._gated(face, image) for face in self._detect(image, region)]
        return self._analysis(image, faces)

    def signature_sync(self, image: np.ndarray, face: Face) -> Signature | None:
        """The SFace signature of a face this analyzer detected (it needs the five points)."""
        signatures = self._models()
        if len(face.landmarks_px) != len(YUNET_POINTS):
            return None
        return self._embed(signatures, aligned_chip(image, face.landmarks_px))

    def analyze_sync(self, image: np.ndarray) -> FaceAnalysis:
        self._models()
        _check_image(image)
        return self.describe_sync(image, self._detect(image))

    def describe_sync(self, image: np.ndarray, faces: Sequence[Face]) -> FaceAnalysis:
        """`analyze_sync` of the faces this analyzer's detector found in `image` (the face
        gate's): every field, without detecting them again."""
        signatures = self._models()
        _check_image(image)
        described = [
            self._describe(face, image, signatures)
            for face in faces
            if len(face.landmarks_px) == len(YUNET_POINTS)
        ]
        return self._analysis(image, described)

    def _detect(self, image: np.ndarray, region: Box | None = None) -> list[Face]:
        # A free detector, or wait for one (a caller of the *_sync methods beside the workers).
        detector = self._free.get()
        try:
            return detector.detect(image, region)
        finally:
            self._free.put(detector)

    def _embed(self, signatures: SignatureModel, chip: np.ndarray) -> Signature:
        with self._signature_lock:
            return signatures.signature(chip)

    def _describe(self, face: Face, image: np.ndarray, signatures: SignatureModel) -> Face:
        points = face.landmarks_px
        height_px, width_px = image.shape[:2]
        chip = aligned_chip(image, points)
        pose = face.pose or estimate_pose(points, width_px, height_px)  # the gate's, if any
        readable = eye_distance_px(points) >= MIN_EYE_DISTANCE_PX
        mask = measure_mask(chip) if readable else None
        return replace(
            face,
            pupils_px=pupils(points),
            pose=pose,
            expression=expression(points),
            mask=self._mask_classifier().read(chip, face.box_px.size_px).state
            if readable
            else None,
            qualities=qualities(
                chip=chip,
                image=image,
                box=face.box_px,
                probability=face.probability,
                pose=pose,
                lower_face_skin=None if mask is None else mask.lower_face_skin,
            ),
            signature=self._embed(signatures, chip) if self._with_signatures else None,
        )

    def _gated(self, face: Face, image: np.ndarray) -> Face:
        """A detection with what the gate judges it by besides: whether the head is turned
        away or the mouth covered (the call policy waits for a view of the face) and the
        mask reading."""
        height_px, width_px = image.shape[:2]
        face = replace(face, pose=estimate_pose(face.landmarks_px, width_px, height_px))
        if eye_distance_px(face.landmarks_px) < MIN_EYE_DISTANCE_PX:
            return face
        chip = aligned_chip(image, face.landmarks_px)
        reading = self._mask_classifier().read(chip, face.box_px.size_px)
        if reading.covered:
            return replace(face, mouth_covered=True)
        return replace(face, mask=reading.state) if reading.confident else face

    def _mask_classifier(self) -> MaskReader:
        if self._masks is None:
            raise RuntimeError("LocalAnalyzer used outside `async with LocalAnalyzer() as ...`")
        return self._masks

    def _models(self) -> SignatureModel:
        if self._signatures is None:
            raise RuntimeError("LocalAnalyzer used outside `async with LocalAnalyzer() as ...`")
        return self._signatures

    def _analysis(self, image: np.ndarray, faces: list[Face]) -> FaceAnalysis:
        return FaceAnalysis(
            faces=tuple(faces),
            image_width_px=int(image.shape[1]),
            image_height_px=int(image.shape[0]),
            analyzer=self.name,
        )


def _check_image(image: np.ndarray) -> None:
    if (
        not isinstance(image, np.ndarray)
        or image.dtype != np.uint8
        or image.ndim != 3
        or image.shape[2] != 3
        or min(image.shape[:2]) < MIN_IMAGE_SIDE_PX
    ):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", None)
        raise AnalyzerError(
            f"not an 8-bit BGR image of at least {MIN_IMAGE_SIDE_PX}x{MIN_IMAGE_SIDE_PX} px: "
            f"shape {shape}, dtype {dtype} (convert with cv2.cvtColor(..., cv2.COLOR_GRAY2BGR) "
            "or cv2.COLOR_BGRA2BGR)",
            reason="bad_image",
            retryable=False,
        )
