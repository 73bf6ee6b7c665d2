"""A convolutional mask classifier (none / worn / incorrect): the analyzer's none or worn.

The analyzer reads masks with it and takes `incorrect` from the feature classifier instead
(mask_reader.py). Held out it finds 97.8 % of maskless faces where the feature classifier
finds 89.2 % (masked vs maskless 95.4 % against 94.0 %), and it gives the maskless man of
mask_on_off his one face.maskless on both paths; but its own `incorrect` was read on 2 of the
media's 60 maskless faces (3.3 %, the limit is 2 %) and raised a false face.mask_incorrect on
entrance_sim, so it is not used. bench/local_analyzer.py measures the readers side by side;
the README's mask reader section has the figures and the story of the variants.

A small network learns the face's shapes (the mouth and nostrils, a mask's edge and folds)
where the features learned mostly colours: four 3x3 convolutions of 16-64 channels, max-pooled
to 4x5, one hidden layer of 64, ~13 MFLOPs and ~115 k weights for one chip. It reads the chip's
lower face only (INPUT_AREA) at 40x32 px, each chip standardised on its own, and gives two heads
at once: the three mask states' probabilities, and whether the nose shows, as the feature
classifier's two networks do; `incorrect` is decided from them the same way
(mask_classifier.reading_of), from INCORRECT_PROBABILITY on. Each chip is read with its mirror
image in one batch.

It is trained with PyTorch by training/train_mask_cnn.py and shipped as ONNX (`mask_cnn.onnx`,
~450 kB), run by ONNX Runtime as the face detector is (0.41 ms a face on one core, the mirror
image included, where OpenCV's dnn module took 0.91): no training framework at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from streamwatch.analysis.local.mask_classifier import IncorrectBy, MaskReading, reading_of
from streamwatch.analysis.local.models import project_model_path
from streamwatch.analysis.local.onnx_runtime import session

CNN_FILE = "mask_cnn.onnx"
# For the error of a missing or broken file.
WHAT, SCRIPT = "the mask network", "training/train_mask_cnn.py"
INPUT_WIDTH_PX = 40
INPUT_HEIGHT_PX = 32
# The chip's lower face, from the eyes' lower lids to below the chin and cheek to cheek (left,
# right, top, bottom, in the 112-px chip): the eyes are at y 52, the nose tip at 72, the mouth
# at 92. The eyes and brow say nothing of a mask, and a network shown them learned the
# training photos' habits from them (who wears glasses, who is lit how) instead of masks.
INPUT_AREA = (12, 100, 40, 108)
MASK_OUTPUTS = 3  # none, worn, incorrect; then the nose head: covered, shows
# `incorrect` is said from this confidence on, above the 0.85 of any other reading: on the
# held-out chips at 0.85 one maskless face and five worn ones read `incorrect`, at 0.95 none
# and four (masks worn low, labelled worn), and none of the seven real incorrect masks held out
# was found at either. (An earlier variant read a bearded maskless man `incorrect` at 0.87.)
INCORRECT_PROBABILITY = 0.95


def network_input(chips: Sequence[np.ndarray]) -> np.ndarray:
    """The network's input (N x 3 x INPUT_HEIGHT_PX x INPUT_WIDTH_PX, BGR) for 112-px BGR
    chips, each standardised on its own (zero mean, unit spread over its pixels and channels):
    how bright a face is lit, or how contrasty the camera is, says nothing of a mask."""
    left, right, top, bottom = INPUT_AREA
    size = (INPUT_WIDTH_PX, INPUT_HEIGHT_PX)
    small = np.stack(
        [cv2.resize(c[top:bottom, left:right], size, interpolation=cv2.INTER_AREA) for c in chips]
    ).astype(np.float32)
    mean = small.mean(axis=(1, 2, 3), keepdims=True)
    spread = small.std(axis=(1, 2, 3), keepdims=True) + 8.0  # a flat chip is not amplified
    blob: np.ndarray = ((small - mean) / spread).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(blob)


class MaskCnn:
    """Loads the packaged ONNX file once; `read` may be called from several threads at once."""

    def __init__(
        self, incorrect_by: IncorrectBy = IncorrectBy.LEARNED, path: Path | None = None
    ) -> None:
        self.incorrect_by = incorrect_by
        # A broken file fails here, not on the first face.
        self._session = session(path or packaged_cnn(), WHAT, SCRIPT)
        self._input_name = self._session.get_inputs()[0].name

    def read(self, chip: np.ndarray, face_px: float) -> MaskReading:
        """The chip and its mirror image in one batch, their probabilities averaged: a face is
        the same face mirrored, and the average steadies a reading that leans on one side's
        light. (`face_px` is not needed: the network sees faces of every size shrunk alike.)"""
        mirrored = np.ascontiguousarray(chip[:, ::-1])
        return self.read_outputs(self.outputs([chip, mirrored]))

    def outputs(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """The network's outputs, one row per chip: three mask probabilities, then the nose's
        two (covered, shows)."""
        (out,) = self._session.run(None, {self._input_name: network_input(chips)})
        return np.asarray(out).reshape(len(chips), -1)

    def read_outputs(self, outputs: np.ndarray) -> MaskReading:
        mean = np.atleast_2d(outputs).mean(axis=0)
        probabilities = (float(mean[0]), float(mean[1]), float(mean[2]))
        nose = float(mean[MASK_OUTPUTS + 1])
        return reading_of(probabilities, nose, self.incorrect_by, INCORRECT_PROBABILITY)


def packaged_cnn() -> Path:
    return project_model_path(CNN_FILE, WHAT, SCRIPT)
