"""The analyzer's mask reader (analysis/local/mask_reader.py): the CNN's none or worn, the
feature classifier's confident `incorrect`; on real faces of ../shared/media (skipped with the
reason when absent) and on constructed readings."""

from __future__ import annotations

from pathlib import Path

import cv2

from streamwatch.analysis.local.mask_classifier import IncorrectBy, MaskReading, reading_of
from streamwatch.analysis.local.mask_reader import MaskReader, combine
from streamwatch.analysis.model import Mask

from .test_mask_cnn import MASKED_PHOTO, MASKLESS_PHOTO, largest_face_chip


def _reading(none: float, worn: float, incorrect: float, nose: float = 0.5) -> MaskReading:
    return reading_of((none, worn, incorrect), nose, IncorrectBy.LEARNED)


def test_reads_a_real_maskless_and_a_real_masked_face(media_dir: Path) -> None:
    reader = MaskReader()
    for photo, state in ((MASKLESS_PHOTO, Mask.NONE), (MASKED_PHOTO, Mask.WORN)):
        image = cv2.imread(str(media_dir / photo))
        assert image is not None, photo
        chip = largest_face_chip(image)
        assert reader.read(chip, 100.0).state is state, photo


def test_incorrect_is_said_by_the_feature_classifier_only() -> None:
    # The CNN read `incorrect` on 2 of the media's 60 maskless faces; the feature
    # classifier, held out and on the media, on none.
    sure_incorrect = _reading(0.02, 0.03, 0.95)
    assert combine(sure_incorrect, _reading(0.9, 0.05, 0.05)).state is Mask.INCORRECT
    cnn_incorrect = combine(_reading(0.3, 0.6, 0.1), _reading(0.02, 0.08, 0.9))
    assert cnn_incorrect.state is Mask.WORN  # the likelier of none and worn
    assert not cnn_incorrect.confident


def test_otherwise_the_cnn_says_whether_a_mask_is_there() -> None:
    # The feature classifier leans worn; the CNN is sure there is no mask: none, confidently.
    reading = combine(_reading(0.3, 0.7, 0.0), _reading(0.95, 0.04, 0.01))
    assert reading.state is Mask.NONE and reading.confident


def test_a_mask_in_the_colours_of_skin_is_a_covered_mouth_and_no_reading() -> None:
    # An ASL signer's hand over his mouth: the CNN reads a mask, the feature classifier is
    # sure of bare skin. Main read it `worn` confidently, from the CNN alone.
    for cnn in (_reading(0.01, 0.98, 0.01), _reading(0.17, 0.69, 0.14)):
        reading = combine(_reading(0.97, 0.02, 0.01), cnn)
        assert reading.covered and not reading.confident
    # The feature classifier unsure: no contradiction, the CNN's reading as before.
    leaning = combine(_reading(0.7, 0.3, 0.0), _reading(0.01, 0.98, 0.01))
    assert not leaning.covered and leaning.state is Mask.WORN and leaning.confident
