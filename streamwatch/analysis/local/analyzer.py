"""LocalAnalyzer: the Analyzer protocol on the device's CPU, no network, no API key.

Two entry points share one detector:
- `detect` / `detect_sync`: the face gate. YuNet: boxes, probabilities and the five native
  points (8-10 ms for a 640x480 frame on one core), plus the mask classifier's reading when
  it is confident (mask_classifier.py, under a millisecond a face; an unsure reading is left
  out, None), so the gate notices a mask taken off without a paid call and does not flip
  with a face half turned away.
- `analyze` / `analyze_sync`: every field the device can estimate, per face: the five
  points, pupils, pose, smile, mask (the classifier's state, sure or not), qualities and
  the SFace signature (~20 ms a face on top of detection). Gender, age, beauty, hat and
  glasses stay None: no model small enough ships for them (README, "Dependencies").

The networks are not thread-safe: every use of one holds its `threading.Lock`, taken in the
thread that does the work. (An asyncio lock around `to_thread` would be released when the
awaiting task is cancelled, while its thread still runs inside the network.) The rest of the
work, and the other network, run meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

import numpy as np

from streamwatch.analysis.analyzer import LOCAL_ANALYZER, AnalyzerError
from streamwatch.analysis.local.chip import aligned_chip
from streamwatch.analysis.local.detector import DETECTION_WIDTH_PX, FaceDetector
from streamwatch.analysis.local.features import expression, eye_distance_px, pupils
from streamwatch.analysis.local.mask import MIN_EYE_DISTANCE_PX, measure_mask
from streamwatch.analysis.local.mask_classifier import IncorrectBy, MaskClassifier
from streamwatch.analysis.local.models import quiet_opencv
from streamwatch.analysis.local.pose import estimate_pose
from streamwatch.analysis.local.quality import qualities
from streamwatch.analysis.local.signature import SignatureModel
from streamwatch.analysis.model import Face, FaceAnalysis, Signature

MIN_IMAGE_SIDE_PX = 8
YUNET_POINTS = ("right eye", "left eye", "nose tip", "right mouth corner", "left mouth corner")


class LocalAnalyzer:
    """On-device analysis. Models load in `__aenter__`; one call runs at a time."""

    name = LOCAL_ANALYZER

    def __init__(
        self,
        min_face_probability: float = 0.6,
        *,
        detection_width_px: int = DETECTION_WIDTH_PX,
        incorrect_by: IncorrectBy = IncorrectBy.LEARNED,
    ) -> None:
        self._min_face_probability = min_face_probability
        self._detection_width_px = detection_width_px
        self._incorrect_by = incorrect_by
        self._detector: FaceDetector | None = None
        self._signatures: SignatureModel | None = None
        self._masks: MaskClassifier | None = None
        # Held by the thread inside each network (several cameras share them).
        self._detector_lock = threading.Lock()
        self._signature_lock = threading.Lock()

    async def __aenter__(self) -> LocalAnalyzer:
        quiet_opencv()
        self._detector = FaceDetector(self._min_face_probability, self._detection_width_px)
        self._signatures = SignatureModel()
        self._masks = MaskClassifier(self._incorrect_by)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._detector = None
        self._signatures = None
        self._masks = None

    async def detect(self, image: np.ndarray) -> FaceAnalysis:
        return await asyncio.to_thread(self.detect_sync, image)

    async def analyze(self, image: np.ndarray) -> FaceAnalysis:
        return await asyncio.to_thread(self.analyze_sync, image)

    async def signature(self, image: np.ndarray, face: Face) -> Signature | None:
        return await asyncio.to_thread(self.signature_sync, image, face)

    def detect_sync(self, image: np.ndarray) -> FaceAnalysis:
        """The face gate: boxes, probabilities, five points and the confident mask reading."""
        detector, _ = self._models()
        _check_image(image)
        faces = [self._with_mask(face, image) for face in self._detect(detector, image)]
        return self._analysis(image, faces)

    def signature_sync(self, image: np.ndarray, face: Face) -> Signature | None:
        """The SFace signature of a face this analyzer detected (it needs the five points)."""
        _, signatures = self._models()
        if len(face.landmarks_px) != len(YUNET_POINTS):
            return None
        return self._embed(signatures, aligned_chip(image, face.landmarks_px))

    def analyze_sync(self, image: np.ndarray) -> FaceAnalysis:
        detector, signatures = self._models()
        _check_image(image)
        faces = [self._describe(face, image, signatures) for face in self._detect(detector, image)]
        return self._analysis(image, faces)

    def _detect(self, detector: FaceDetector, image: np.ndarray) -> list[Face]:
        with self._detector_lock:
            return detector.detect(image)

    def _embed(self, signatures: SignatureModel, chip: np.ndarray) -> Signature:
        with self._signature_lock:
            return signatures.signature(chip)

    def _describe(self, face: Face, image: np.ndarray, signatures: SignatureModel) -> Face:
        points = face.landmarks_px
        height_px, width_px = image.shape[:2]
        chip = aligned_chip(image, points)
        pose = estimate_pose(points, width_px, height_px)
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
            signature=self._embed(signatures, chip),
        )

    def _with_mask(self, face: Face, image: np.ndarray) -> Face:
        if eye_distance_px(face.landmarks_px) < MIN_EYE_DISTANCE_PX:
            return face
        chip = aligned_chip(image, face.landmarks_px)
        reading = self._mask_classifier().read(chip, face.box_px.size_px)
        return replace(face, mask=reading.state) if reading.confident else face

    def _mask_classifier(self) -> MaskClassifier:
        if self._masks is None:
            raise RuntimeError("LocalAnalyzer used outside `async with LocalAnalyzer() as ...`")
        return self._masks

    def _models(self) -> tuple[FaceDetector, SignatureModel]:
        if self._detector is None or self._signatures is None:
            raise RuntimeError("LocalAnalyzer used outside `async with LocalAnalyzer() as ...`")
        return self._detector, self._signatures

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
