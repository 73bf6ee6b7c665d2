"""The analyzer's mask reader: the CNN says whether a mask is there, the feature classifier
whether it is worn wrong.

- The CNN (mask_cnn.py: convolutions over the lower face's shapes) reads none against worn:
  held out (training/evaluate_mask_readers.py, where readers are chosen) it finds 97.8 % of
  maskless faces where the feature classifier finds 89.2 %, masked vs maskless 95.4 % against
  94.0 %. It never says `incorrect` here: it read it on 0.7 % of held-out worn faces and on 2
  of the media's 60 maskless ones.
- The feature classifier (mask_classifier.py) says `incorrect` when it is confident of it
  (reading_of): held out and on the media it never read it on a maskless or worn face.
So a reading is the feature classifier's when that is a confident `incorrect` (or the CNN
leans to `incorrect` itself and the features are confident: `combine`), else the CNN's likelier
of none and worn; but when the CNN reads a mask and the feature classifier is sure of bare
skin, the mouth is `covered` by something else (on the clips: mostly a hand). Cost: the
two, ~1.5 ms a face on one core (bench figure); the CNN alone, ~0.7 ms, on a face it is sure
has no mask (`MaskReader.read`).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from streamwatch.analysis.local.mask_classifier import (
    CONFIDENT_PROBABILITY,
    IncorrectBy,
    MaskClassifier,
    MaskReading,
    reading_of,
)
from streamwatch.analysis.local.mask_cnn import MaskCnn
from streamwatch.analysis.model import Mask


class MaskReader:
    """Loads both readers once; `read` may be called from any number of threads."""

    def __init__(
        self,
        incorrect_by: IncorrectBy = IncorrectBy.LEARNED,
        *,
        features: MaskClassifier | None = None,
        cnn: MaskCnn | None = None,
    ) -> None:
        self._features = features or MaskClassifier(incorrect_by)
        self._cnn = cnn or MaskCnn(incorrect_by)

    def read(self, chip: np.ndarray, face_px: float) -> MaskReading:
        cnn = self._cnn.read(chip, face_px)
        if cnn.probabilities[0] >= CONFIDENT_PROBABILITY:
            # Sure there is no mask: the feature classifier would only be asked whether one
            # is worn wrong. Held out, skipping it then changes no reading (18 % of faces;
            # most of them when everyone in view is maskless), and it halves the cost there.
            return never_incorrect(cnn)
        return combine(self._features.read(chip, face_px), cnn)


def never_incorrect(cnn: MaskReading) -> MaskReading:
    """The CNN's likelier of none and worn."""
    return reading_of(cnn.probabilities, cnn.nose_visible, IncorrectBy.LEARNED, math.inf)


def combine(features: MaskReading, cnn: MaskReading) -> MaskReading:
    """The feature classifier's confident `incorrect`, else the CNN's none or worn; but when
    the CNN's likeliest state is `incorrect`, which it is not trusted to say, the feature
    classifier's confident reading; and when the CNN reads a mask and the feature classifier
    is sure of none, a `covered` mouth, unsure.

    The CNN's none-or-worn then rests on what little it left to the two (entrance_sim's blurred
    close-ups: none 0.04, worn 0.00, incorrect 0.95) and is never confident, and an unsure
    answer costs an `undecided` call; held out, the readings confident go from 86.8 % to
    87.5 % of faces with the same 8 masked faces confidently read maskless and 1 maskless
    face confidently read masked."""
    if features.state is Mask.INCORRECT:  # said only when confident
        return features
    if cnn.state is Mask.WORN and features.state is Mask.NONE and features.confident:
        # The shape of a mask in the colours of skin. On the clips' gate detections: an ASL
        # signer's hand over his mouth (4), an entrance visitor's motion-blurred walk-in
        # with her hand at her chin (4), a 40 px false face on the back of a head (1); held
        # out, 2 of 551 masked faces and no maskless one. Neither reading is believed, and
        # the call policy waits for a view of the mouth: a first call on the signer's hand
        # had said `worn`, and the gate's `none` once the hand was gone cost a second. The
        # CNN need not be sure: as the hand moves off it reads worn at 0.7-0.85.
        return replace(never_incorrect(cnn), confidence=0.5, covered=True)
    none, worn, incorrect = cnn.probabilities
    if incorrect > max(none, worn) and features.confident:
        return features
    return never_incorrect(cnn)
