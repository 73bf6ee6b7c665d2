"""The skin-colour measure of the lower face on the chip: the mask classifier's first cue.

The mask state itself comes from the learned classifier (mask_classifier.py). This measure was
the whole reading before it; measured side by side (bench/local_analyzer.py, the training
script's held-out chips) it lost as a reading — masked vs maskless 90 % against 95 % on the
held-out chips, and `incorrect` read on a quarter of correctly worn masks — and stays for what
it still does well: four of the classifier's features, and the contract's `mask` quality
(`lower_face_skin`). It reads the aligned chip (chip.py) with two cues that do not depend on
the mask's colour, only on the face's own:

- **skin likeness**: the person's skin colour is taken from the more coloured of two
  patches a mask never covers, the forehead and between the eyes (hair, a hat brim or a
  glasses bridge is greyer than skin, so the more coloured is skin; the skin under the
  eyes was tried too and lost: high masks and glasses rims cover it); a region is skin when most
  of its pixels lie within SKIN_CHROMA_DISTANCE of it in the CIELab a*b* plane, which
  ignores brightness and so shading;
- **lips**: lips are redder (higher a*) than the skin around them; a mask is not. The
  reddest tenth of the mouth band at least as red as the skin means the lips are visible.

Its own rule (`MaskMeasure.state`, kept for the bench's comparison): lips visible and the chin
or a cheek beside the mouth is skin → no mask; otherwise the nose is skin → worn below the
nose (incorrect); otherwise → worn. The constants are
round values argued from colour, not fitted: a chroma distance of 12 is a plainly visible
colour difference, "most" is half of the pixels, "as red as" is a difference of zero.
`lower_face_skin` (0..1) is also the contract's mask quality (100 = nothing covers the
lower face).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from streamwatch.analysis.local.chip import chip_region
from streamwatch.analysis.model import Mask

# Chip rectangles (left, right, top, bottom) in the 112-px ArcFace layout: eyes at y≈52,
# nose tip at (56, 72), mouth corners at y≈92.
SKIN_REFERENCE_REGIONS = (
    (42, 70, 22, 34),  # forehead
    (51, 61, 44, 54),  # between the eyes
)
NOSE_REGION = (50, 62, 62, 74)
CHEEK_REGIONS = ((24, 40, 76, 92), (72, 88, 76, 92))  # beside the mouth; one may be turned away
CHIN_REGION = (46, 66, 100, 108)
MOUTH_BAND = (46, 66, 86, 98)
SKIN_CHROMA_DISTANCE = 12.0
SKIN_MAJORITY = 0.5
LIP_PERCENTILE = 90
LIP_REDNESS_MIN = 0.0
# Below this eye distance (a face of ~15 px) the chip is an enlargement of a few pixels;
# above it the colour cues hold even where the detail is gone.
MIN_EYE_DISTANCE_PX = 6.0


@dataclass(frozen=True, slots=True)
class MaskMeasure:
    nose_skin: float  # fraction of the nose region's pixels that are skin-coloured
    cheek_skin: float  # the more skin-like of the two cheeks beside the mouth
    chin_skin: float
    lip_redness: float  # a* of the mouth's reddest tenth minus the skin's a*

    @property
    def lower_face_skin(self) -> float:
        return (self.cheek_skin + self.chin_skin) / 2

    @property
    def state(self) -> Mask:
        lips_visible = self.lip_redness >= LIP_REDNESS_MIN
        lower_skin = max(self.cheek_skin, self.chin_skin) >= SKIN_MAJORITY
        if lips_visible and lower_skin:
            return Mask.NONE
        return Mask.INCORRECT if self.nose_skin >= SKIN_MAJORITY else Mask.WORN


def measure_mask(chip: np.ndarray) -> MaskMeasure:
    lab = cv2.cvtColor(cv2.GaussianBlur(chip, (3, 3), 0), cv2.COLOR_BGR2LAB).astype(np.float32)
    candidates = [np.median(chip_region(lab, r)[:, 1:], axis=0) for r in SKIN_REFERENCE_REGIONS]
    # 8-bit Lab stores a* and b* offset by 128: the chroma is the distance from (128, 128).
    skin_ab = max(candidates, key=lambda ab: float(np.hypot(ab[0] - 128, ab[1] - 128)))

    def skin_fraction(region: tuple[int, int, int, int]) -> float:
        ab = chip_region(lab, region)[:, 1:]
        return float(np.mean(np.linalg.norm(ab - skin_ab, axis=1) < SKIN_CHROMA_DISTANCE))

    mouth_a = float(np.percentile(chip_region(lab, MOUTH_BAND)[:, 1], LIP_PERCENTILE))
    return MaskMeasure(
        nose_skin=skin_fraction(NOSE_REGION),
        cheek_skin=max(skin_fraction(r) for r in CHEEK_REGIONS),
        chin_skin=skin_fraction(CHIN_REGION),
        lip_redness=mouth_a - float(skin_ab[0]),
    )
