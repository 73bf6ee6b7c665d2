"""Selection before the detector: the motion gate and face sharpness."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from streamwatch.analysis.model import Box
from streamwatch.config import SelectionSettings
from streamwatch.selection import MotionGate, SharpnessHistory, face_sharpness


def _textured(seed: int = 1, shape: tuple[int, int] = (360, 640)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 255, (*shape, 3), dtype=np.uint8), (3, 3), 0)


def test_a_still_scene_does_not_move_and_a_new_object_does() -> None:
    gate = MotionGate(SelectionSettings())
    scene = _textured()
    rng = np.random.default_rng(2)
    assert gate.moved(scene)  # the first frame always counts
    for _ in range(5):  # sensor noise is not motion
        noisy = np.clip(scene + rng.normal(0, 3, scene.shape), 0, 255).astype(np.uint8)
        assert not gate.moved(noisy)
    visitor = scene.copy()
    cv2.rectangle(visitor, (300, 100), (380, 220), (20, 200, 240), -1)
    assert gate.moved(visitor)


def test_a_blurred_face_is_less_sharp_than_the_same_face_sharp(
    media_image: Callable[[str], np.ndarray],
) -> None:
    image = media_image("images/faces/obama.jpg")
    box = Box(374, 89, 237, 328)  # the face, as the detector finds it
    blurred = cv2.GaussianBlur(image, (21, 21), 0)
    assert face_sharpness(image, box) > 3 * face_sharpness(blurred, box)


def test_sharpness_is_judged_against_the_cameras_own_median() -> None:
    history = SharpnessHistory(warm_up=5)
    for value in (20, 22, 18, 21, 19):  # a soft camera
        assert history.relative(value) == 1.0  # warming up
    assert history.relative(30) == pytest.approx(1.5)  # its best frames stand out
    assert history.relative(10) < 0.6
