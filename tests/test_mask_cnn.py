"""The convolutional mask classifier: the shipped ONNX network run by OpenCV, on real faces of
../shared/media (skipped with the reason when absent), and the `incorrect` decision it uses.

No test needs PyTorch: only the training does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from streamwatch.analysis.local.chip import aligned_chip
from streamwatch.analysis.local.detector import FaceDetector
from streamwatch.analysis.local.mask_classifier import STATES, IncorrectBy, reading_of
from streamwatch.analysis.local.mask_cnn import (
    INCORRECT_PROBABILITY,
    MaskCnn,
    network_input,
    packaged_cnn,
)
from streamwatch.analysis.local.models import ModelFileError
from streamwatch.analysis.model import Mask

MASKLESS_PHOTO = "images/faces/biden.jpg"
MASKED_PHOTO = "images/with_mask/0_0_0 copy 20.jpg"


def largest_face_chip(image: np.ndarray) -> np.ndarray:
    faces = FaceDetector(0.6).detect(image)
    assert faces, "no face found"
    face = max(faces, key=lambda f: f.box_px.area)
    return aligned_chip(image, face.landmarks_px)


def test_the_shipped_onnx_runs_in_opencv_and_reads_a_real_maskless_and_masked_face(
    media_image: Callable[[str], np.ndarray],
) -> None:
    # The packaged file itself through cv2.dnn, as the reader runs it: for a batch of chips,
    # the mask head's three probabilities, then the nose head's two.
    net = cv2.dnn.readNetFromONNX(str(packaged_cnn()))
    maskless = largest_face_chip(media_image(MASKLESS_PHOTO))
    masked = largest_face_chip(media_image(MASKED_PHOTO))
    net.setInput(network_input([maskless, masked]))
    out = net.forward()
    assert out.shape == (2, len(STATES) + 2)
    np.testing.assert_allclose(out[:, : len(STATES)].sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(out[:, len(STATES) :].sum(axis=1), 1.0, atol=1e-4)
    cnn = MaskCnn()
    bare, worn = cnn.read(maskless, 0.0), cnn.read(masked, 0.0)
    assert (bare.state, bare.confident) == (Mask.NONE, True), bare
    assert (worn.state, worn.confident) == (Mask.WORN, True), worn
    assert bare.nose_visible > 0.5 > worn.nose_visible


def test_threads_reading_at_once_read_what_one_thread_reads(
    media_image: Callable[[str], np.ndarray],
) -> None:
    # One ONNX Runtime session serves every thread: at once, they read what one thread reads.
    cnn = MaskCnn()
    chips = [
        largest_face_chip(media_image(MASKLESS_PHOTO)),
        largest_face_chip(media_image(MASKED_PHOTO)),
    ] * 20
    alone = [cnn.read(chip, 0.0) for chip in chips]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda chip: cnn.read(chip, 0.0), chips))
    assert together == alone


def test_a_file_that_is_not_the_network_is_refused_naming_the_fix(tmp_path: Path) -> None:
    broken = tmp_path / "mask_cnn.onnx"
    broken.write_bytes(b"not an onnx file")
    with pytest.raises(ModelFileError, match=re.escape("training/train_mask_cnn.py")):
        MaskCnn(path=broken)


def test_incorrect_needs_more_than_the_confidence_of_other_readings() -> None:
    # 0.9 is confident for `none` or `worn`; from the network, not enough for `incorrect`.
    below = (0.02, 0.08, 0.90)
    assert reading_of(below, 0.9, IncorrectBy.LEARNED).state is Mask.INCORRECT
    learned = reading_of(below, 0.9, IncorrectBy.LEARNED, INCORRECT_PROBABILITY)
    assert (learned.state, learned.confident) == (Mask.WORN, False)
    # By the rule, a present mask and a nose shown at 0.9 are not enough either.
    rule = reading_of((0.03, 0.9, 0.07), 0.9, IncorrectBy.RULE, INCORRECT_PROBABILITY)
    assert rule.state is Mask.WORN
    sure = reading_of((0.01, 0.01, 0.98), 0.99, IncorrectBy.LEARNED, INCORRECT_PROBABILITY)
    assert (sure.state, sure.confident) == (Mask.INCORRECT, True)
