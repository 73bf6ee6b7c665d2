"""The learned mask classifier: none / worn / incorrect from the aligned face chip.

Two small networks (one hidden layer of ReLU units, NumPy, no framework) read the features of
mask_features.py:

- the **mask** network gives the three states' probabilities;
- the **nose** network gives the probability that the nose shows (no mask, or a mask worn
  below it).

The skin-colour measure (mask.py) has a vote: the probability of "no mask" is a weight of its
say (1 or 0), SKIN_WEIGHT_SMALL or SKIN_WEIGHT_BIG by the face's size, and the rest the
network's. Alone it is the weaker reader (masked vs maskless 90.2 % on the held-out chips);
as a second opinion it makes a reading the two disagree on unsure, which is what it is, and on
a big face, where it is as good as the network, it breaks their tie. With it and the mirror
image the held-out chips read 94.0 % right (the network alone on the chip: 93.1 %), 84 % of
readings are confident and 97.6 % of those right; on ../shared/media's mask photos of faces
>= 64 px, 95.4 % (94.4 % for the skin measure alone).

`incorrect` is the hard state: 47 of 3 293 training chips. How it is decided is a closed
choice, both measured by bench/local_analyzer.py and by the training script:
- `IncorrectBy.LEARNED` (the default): the mask network's most probable state, trained with
  masks painted below the nose of maskless chips besides the 47 real ones;
- `IncorrectBy.RULE`: a mask is present (worn + incorrect >= 1/2) and the nose shows (nose
  network >= 1/2) — the nose network learns from every chip, not just the 47.
Either way `incorrect` is said only when it is confident; an unsure one is said as the
likelier of `none` and `worn`. An `incorrect` answer is an alert, and a smiling face half in
profile read `incorrect` 0.52 against `none` 0.47 on every call, so two calls confirmed a
false face.mask_incorrect (short_hamilton's audience, both paths). With that, learned finds
17 % of the real incorrect faces of ../shared/media (25 % of the synthetic; 33 % and 35 %
before) and the rule 30 % and 30 % (57 % and 55 % before, with 3.3 % of maskless and 3.4 %
of worn faces read `incorrect`); both read `incorrect` on none of its maskless or worn faces,
and on the held-out chips on 0.0 % of maskless and 0.0 % (learned) or 1.6 % (rule, 6.2 %
before) of worn ones. The rule is not made the default on the development media's word.

A reading is **confident** when the weakest probability it rests on (no mask; or mask, and
for worn against incorrect under the rule, the nose) is at least CONFIDENT_PROBABILITY: the
local gate only reports such readings (a face half turned away or half blurred reads near
the middle, and flips), and the rules let one confident reading second an answer
(events/rules.py).

The weights (`mask_weights.npz`, ~470 kB, float16) are made by
training/train_mask_classifier.py from ../shared/training/mask_chips (CC0); nothing is
downloaded. Each chip is read with its mirror image and the probabilities averaged. Cost:
about 0.7 ms a face on one core, features included (bench figure).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from streamwatch.analysis.local.mask import MaskMeasure
from streamwatch.analysis.local.mask_features import (
    FEATURE_LENGTH,
    LIP_REDNESS_SCALE,
    chip_features,
)
from streamwatch.analysis.local.models import ModelFileError, project_model_path
from streamwatch.analysis.model import Mask

WEIGHTS_FILE = "mask_weights.npz"
# The skin-colour measure's vote on "no mask", against the network's probability: more on
# faces of at least BIG_FACE_PX, where it is measured right as often as the network (98.9 %
# masked vs maskless on the held-out chips) and it decides when the two disagree; less on
# small ones, where it is not (88.9 %).
SKIN_WEIGHT_SMALL = 0.4
SKIN_WEIGHT_BIG = 0.5
BIG_FACE_PX = 64.0
WEIGHTS_FORMAT = 1
CONFIDENT_PROBABILITY = 0.85
STATES = (Mask.NONE, Mask.WORN, Mask.INCORRECT)  # the mask network's outputs, in order


class IncorrectBy(StrEnum):
    RULE = "rule"
    LEARNED = "learned"


@dataclass(frozen=True, slots=True)
class MaskReading:
    state: Mask
    probabilities: tuple[float, float, float]  # none, worn, incorrect (the mask network)
    nose_visible: float  # probability that the nose shows (the nose network)
    confidence: float  # the weakest probability the state rests on (0.5..1)
    # The CNN reads a mask where the feature classifier is sure of bare skin: something
    # that is not a mask covers the mouth (mask_reader.combine). Never confident.
    covered: bool = False

    @property
    def confident(self) -> bool:
        return self.confidence >= CONFIDENT_PROBABILITY


@dataclass(frozen=True, slots=True)
class Network:
    """Standardise, one hidden ReLU layer, softmax."""

    mean: np.ndarray
    scale: np.ndarray
    hidden_w: np.ndarray
    hidden_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        x = (features - self.mean) / self.scale
        hidden = np.maximum(x @ self.hidden_w + self.hidden_b, 0.0)
        logits = hidden @ self.out_w + self.out_b
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
        return probabilities


class MaskClassifier:
    """Loads the packaged weights once; `read` is thread-safe (no state changes)."""

    def __init__(
        self, incorrect_by: IncorrectBy = IncorrectBy.LEARNED, path: Path | None = None
    ) -> None:
        self.incorrect_by = incorrect_by
        self._mask, self._nose = load_networks(path or packaged_weights())

    def read(self, chip: np.ndarray, face_px: float) -> MaskReading:
        """The chip of a face of `face_px` (its box's size in the frame) and its mirror image,
        read together: a face is the same face mirrored, and the average of the two steadies
        a reading that leans on one side's light."""
        mirrored = np.ascontiguousarray(chip[:, ::-1])
        features = np.stack([chip_features(chip), chip_features(mirrored)])
        return self.read_features(features, face_px)

    def read_features(self, features: np.ndarray, face_px: float) -> MaskReading:
        """From one feature vector, or a stack of them whose probabilities are averaged."""
        rows = np.atleast_2d(features).astype(np.float32)
        network = self._mask.probabilities(rows).mean(axis=0)
        skin_says_none = float(np.mean([skin_state(row) is Mask.NONE for row in rows]))
        weight = SKIN_WEIGHT_BIG if face_px >= BIG_FACE_PX else SKIN_WEIGHT_SMALL
        none = (1 - weight) * float(network[0]) + weight * skin_says_none
        masked = float(network[1] + network[2]) or 1.0
        p = np.array([none, *(network[1:] / masked * (1 - none))])
        nose = float(self._nose.probabilities(rows).mean(axis=0)[1])
        return reading_of((float(p[0]), float(p[1]), float(p[2])), nose, self.incorrect_by)


def reading_of(
    probabilities: tuple[float, float, float],
    nose: float,
    incorrect_by: IncorrectBy,
    incorrect_from: float = CONFIDENT_PROBABILITY,
) -> MaskReading:
    """The reading of the mask probabilities (none, worn, incorrect) and the probability that
    the nose shows, `incorrect` decided as `incorrect_by` says and said only when its
    confidence is at least `incorrect_from`."""
    reading = _decide(probabilities, nose, incorrect_by)
    if reading.state is Mask.INCORRECT and reading.confidence < incorrect_from:
        # An unsure `incorrect` is an alert's worth of doubt (a smiling face in profile
        # reads half `incorrect` on every call, and two such answers confirm): only a
        # confident one is said; otherwise the likelier of the other two.
        best = 0 if probabilities[0] >= probabilities[1] else 1
        return MaskReading(STATES[best], probabilities, nose, probabilities[best])
    return reading


def _decide(
    probabilities: tuple[float, float, float], nose: float, incorrect_by: IncorrectBy
) -> MaskReading:
    match incorrect_by:
        case IncorrectBy.RULE:
            present = probabilities[1] + probabilities[2]
            if present < 0.5:
                return MaskReading(Mask.NONE, probabilities, nose, 1.0 - present)
            state = Mask.INCORRECT if nose >= 0.5 else Mask.WORN
            confidence = min(present, max(nose, 1.0 - nose))
            return MaskReading(state, probabilities, nose, confidence)
        case IncorrectBy.LEARNED:
            best = int(np.argmax(probabilities))
            return MaskReading(STATES[best], probabilities, nose, probabilities[best])


def skin_state(features: np.ndarray) -> Mask:
    """The skin-colour measure's own state, from its four values at the features' end."""
    nose, cheek, chin, lips = (float(v) for v in features[-4:])
    return MaskMeasure(nose, cheek, chin, lips * LIP_REDNESS_SCALE).state


def packaged_weights() -> Path:
    return project_model_path(
        WEIGHTS_FILE, "the mask classifier's weights", "training/train_mask_classifier.py"
    )


def load_networks(path: Path) -> tuple[Network, Network]:
    with np.load(path) as stored:
        if int(stored["format"]) != WEIGHTS_FORMAT or int(stored["features"]) != FEATURE_LENGTH:
            raise ModelFileError(
                f"{path}: weights of format {int(stored['format'])} for "
                f"{int(stored['features'])} features; this streamwatch reads format "
                f"{WEIGHTS_FORMAT} for {FEATURE_LENGTH}: retrain with "
                "training/train_mask_classifier.py"
            )
        mean = stored["mean"].astype(np.float32)
        scale = stored["scale"].astype(np.float32)

        def network(prefix: str) -> Network:
            return Network(
                mean,
                scale,
                *(stored[f"{prefix}_{part}"].astype(np.float32) for part in PARTS),
            )

        return network("mask"), network("nose")


PARTS = ("hidden_w", "hidden_b", "out_w", "out_b")
