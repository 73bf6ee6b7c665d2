"""The appearance signature: SFace's 128-d embedding of the aligned chip.

Two chips of one person are closer (cosine distance) than chips of two people; OpenCV-zoo
gives 1 - 0.363 = 0.637 as SFace's same-person threshold on LFW. The embedding stays on
the device (`Signature` never prints its values).
"""

from __future__ import annotations

import cv2
import numpy as np

from streamwatch.analysis.local.chip import CHIP_PX
from streamwatch.analysis.local.models import SFACE_FILE, SFACE_MODEL_NAME, shipped_model_path
from streamwatch.analysis.model import Signature

# OpenCV-zoo's SFace cosine-similarity threshold for "same identity", as a distance.
SAME_PERSON_MAX_DISTANCE = 1.0 - 0.363
_INPUT_NAME = "data"


class SignatureModel:
    """SFace through `cv2.dnn` (OpenCV 5's FaceRecognizerSF cannot feed this int8 build)."""

    def __init__(self) -> None:
        self._net = cv2.dnn.readNetFromONNX(str(shipped_model_path(SFACE_FILE)))

    def signature(self, chip: np.ndarray) -> Signature:
        # SFace takes raw BGR 0..255 values, no mean, no scaling.
        blob = cv2.dnn.blobFromImage(chip, 1.0, (CHIP_PX, CHIP_PX), (0, 0, 0), swapRB=False)
        self._net.setInput(blob, _INPUT_NAME)
        values = self._net.forward().reshape(-1).astype(np.float64)
        norm = float(np.linalg.norm(values)) or 1.0
        return Signature(values=tuple((values / norm).tolist()), model=SFACE_MODEL_NAME)
