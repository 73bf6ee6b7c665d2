"""The two mask classifiers together (mask_ensemble.py): on real faces of ../shared/media
(skipped with the reason when absent), and how it pools the two readings."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from streamwatch.analysis.local.chip import aligned_chip
from streamwatch.analysis.local.detector import FaceDetector
from streamwatch.analysis.local.mask_classifier import IncorrectBy, MaskReading
from streamwatch.analysis.local.mask_ensemble import IncorrectFrom, MaskEnsemble
from streamwatch.analysis.model import Mask

MASKLESS_PHOTO = "images/faces/biden.jpg"
MASKED_PHOTO = "images/with_mask/0_0_0 copy 20.jpg"


def largest_face(image: np.ndarray) -> tuple[np.ndarray, float]:
    faces = FaceDetector(0.6).detect(image)
    assert faces, "no face found"
    face = max(faces, key=lambda f: f.box_px.area)
    return aligned_chip(image, face.landmarks_px), face.box_px.size_px


def reading(probabilities: tuple[float, float, float], nose: float) -> MaskReading:
    """A reader's reading; only its probabilities count to the ensemble."""
    return MaskReading(Mask.NONE, probabilities, nose, 0.0)


def test_reads_a_real_maskless_and_a_real_masked_face_confidently(
    media_image: Callable[[str], np.ndarray],
) -> None:
    ensemble = MaskEnsemble()
    bare = ensemble.read(*largest_face(media_image(MASKLESS_PHOTO)))
    worn = ensemble.read(*largest_face(media_image(MASKED_PHOTO)))
    assert (bare.state, bare.confident) == (Mask.NONE, True), bare
    assert (worn.state, worn.confident) == (Mask.WORN, True), worn
    assert bare.nose_visible > 0.5 > worn.nose_visible


def test_one_sure_reader_and_one_leaning_the_same_way_make_a_confident_reading() -> None:
    # Log-odds pooled: 0.99 and 0.6 for "no mask" give 0.92, confident; their mean (0.795)
    # would not be, and an unsure first answer costs a second call.
    ensemble = MaskEnsemble()
    pooled = ensemble.combine(reading((0.99, 0.01, 0.0), 0.99), reading((0.6, 0.4, 0.0), 0.9))
    assert (pooled.state, pooled.confident) == (Mask.NONE, True), pooled
    assert 0.91 < pooled.probabilities[0] < 0.93
    # Two readers that disagree make an unsure reading, whichever way it leans.
    split = ensemble.combine(reading((0.95, 0.05, 0.0), 0.9), reading((0.05, 0.95, 0.0), 0.1))
    assert not split.confident, split


def test_incorrect_is_placed_by_the_feature_classifier_unless_told_to_average() -> None:
    # Both readers are sure of a mask; the CNN alone puts it below the nose.
    features = reading((0.01, 0.97, 0.02), 0.1)
    cnn = reading((0.01, 0.02, 0.97), 0.9)
    by_features = MaskEnsemble(incorrect_from=IncorrectFrom.FEATURES).combine(features, cnn)
    assert by_features.state is Mask.WORN, by_features
    assert by_features.probabilities[2] < 0.03
    # Averaged, the two splits make an unsure `incorrect`, said as the likelier of the others.
    averaged = MaskEnsemble(incorrect_from=IncorrectFrom.AVERAGE).combine(features, cnn)
    assert averaged.state is not Mask.INCORRECT and not averaged.confident, averaged
    # And when both place it below the nose, surely, `incorrect` is said (learned, or by rule).
    both = reading((0.01, 0.02, 0.97), 0.95)
    for incorrect_by in IncorrectBy:
        sure = MaskEnsemble(incorrect_by).combine(both, both)
        assert (sure.state, sure.confident) == (Mask.INCORRECT, True), (incorrect_by, sure)
