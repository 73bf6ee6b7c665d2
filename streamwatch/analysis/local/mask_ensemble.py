"""The two mask classifiers together: the feature classifier's and the CNN's readings pooled.

**Measured, not the analyzer's reader** (mask_reader.py is: the CNN's none or worn, the feature
classifier's `incorrect`): the pair wins on the held-out chips but, wired in, left the
mask_on_off man unannounced, which the reader does not. The README's mask classifier section has the
figures; in short:
- held out (training/evaluate_mask_readers.py, where this was chosen): masked vs maskless
  96.0 % against the features' 94.0 % and the CNN's 95.4 %, `incorrect` on none of the
  maskless or worn faces, 87.7 % of readings confident (84.2 %, 87.4 %);
- ../shared/media's photos (bench/local_analyzer.py): faces >= 64 px 96.3 % against 95.4 %,
  every masked face read masked but 4 of 60 maskless ones read worn (the features: 1);
- wired in, bench/replays.py: 28 calls of a 1 Hz poller's 298 (9.4 %, the target is 8 %)
  against 23, the mask_on_off man still unannounced, no false alert: on entrance_sim 27 % of
  the gate's face readings are unsure against 16 %, as with the CNN alone, and unsure
  readings cost `undecided` and `changed` calls.

The feature classifier (mask_classifier.py: NumPy networks over colours and gradients, with the
skin-colour measure's vote) and the CNN (mask_cnn.py: convolutions over the lower face's
shapes) learned from the same chips but see different things, and err on different faces.

The reading: the `none` probabilities and the nose probabilities of the two, each pooled as
the mean of their log-odds (`pooled`: a plain mean leaves a face one reader is sure of unsure,
81.5 % of held-out readings confident against 87.7 %); how the rest (a mask) splits between
`worn` and `incorrect` is a closed choice (`IncorrectFrom`):
- `FEATURES` (the default): as the feature classifier splits it. The CNN reads `incorrect`
  falsely more often (2 of the media's 60 maskless faces); held out, the split of the two
  pooled (`AVERAGE`) read 0.5 % of worn faces `incorrect`, the features' split none.
- `AVERAGE`: the two readers' splits pooled.
Then `incorrect` is decided and said only when confident, as for each alone
(mask_classifier.reading_of).

Cost: the two readers', ~1.5 ms a face on one core (bench figure).
"""

from __future__ import annotations

import math
from enum import StrEnum

import numpy as np

from streamwatch.analysis.local.mask_classifier import (
    CONFIDENT_PROBABILITY,
    IncorrectBy,
    MaskClassifier,
    MaskReading,
    reading_of,
)
from streamwatch.analysis.local.mask_cnn import MaskCnn

CLAMP = 1e-6


class IncorrectFrom(StrEnum):
    AVERAGE = "average"
    FEATURES = "features"


class MaskEnsemble:
    """Both classifiers, loaded once; `read` may be called from any number of threads (each
    one's `read` may)."""

    def __init__(
        self,
        incorrect_by: IncorrectBy = IncorrectBy.LEARNED,
        incorrect_from: IncorrectFrom = IncorrectFrom.FEATURES,
        *,
        features: MaskClassifier | None = None,
        cnn: MaskCnn | None = None,
    ) -> None:
        self.incorrect_by = incorrect_by
        self.incorrect_from = incorrect_from
        self._features = features or MaskClassifier(incorrect_by)
        self._cnn = cnn or MaskCnn(incorrect_by)

    def read(self, chip: np.ndarray, face_px: float) -> MaskReading:
        return self.combine(self._features.read(chip, face_px), self._cnn.read(chip, face_px))

    def combine(self, features: MaskReading, cnn: MaskReading) -> MaskReading:
        """The reading of the two readers' probabilities (their own decisions play no part)."""
        none = pooled(features.probabilities[0], cnn.probabilities[0])
        nose = pooled(features.nose_visible, cnn.nose_visible)
        below_nose = share_below_nose(features)
        match self.incorrect_from:
            case IncorrectFrom.AVERAGE:
                below_nose = pooled(below_nose, share_below_nose(cnn))
            case IncorrectFrom.FEATURES:
                pass
        incorrect = (1 - none) * below_nose
        worn = (1 - none) - incorrect
        return reading_of((none, worn, incorrect), nose, self.incorrect_by, CONFIDENT_PROBABILITY)


def pooled(first: float, second: float) -> float:
    """The probability of the mean of two probabilities' log-odds. Where the two agree it is
    as sure as they are; where one is sure and the other leans the same way it stays sure
    (0.99 and 0.6: 0.92, where their mean, 0.80, is unsure); where they disagree it is unsure."""
    odds = (_log_odds(first) + _log_odds(second)) / 2
    return 1 / (1 + math.exp(-odds))


def share_below_nose(reading: MaskReading) -> float:
    """Of a reader's probability of a mask, the share it gives to a mask below the nose."""
    _, worn, incorrect = reading.probabilities
    return incorrect / (worn + incorrect) if worn + incorrect > 0 else 0.0


def _log_odds(probability: float) -> float:
    p = min(max(probability, CLAMP), 1 - CLAMP)  # a network's 0 or 1 is not infinitely sure
    return math.log(p / (1 - p))
