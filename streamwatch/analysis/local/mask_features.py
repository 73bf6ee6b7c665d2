"""What the mask classifier looks at: one vector of numbers per aligned face chip.

Three parts, all cheap (about a third of a millisecond a chip on one core), all read from
the 112-px chip chip.py makes, so a face of any size, position and roll gives the same
layout; the first two from its face area only (FACE_AREA):

- **shape** (1 764 values): a histogram of oriented gradients of the grey face at 64 px —
  8-px cells, 9 orientation bins, 2x2-cell blocks normalised as Dalal and Triggs' L2-Hys. A
  mask's edge across the nose and its folds, lips and nostrils, stubble: what the face's
  outline and texture say whatever its colours;
- **colour** (192 values): CIELab of the face averaged over an 8x8 grid, taken relative to
  the brow's cells (a mask never covers them), so a dark face and a pale one, a
  warm light and a cold one, put the same face at the same place;
- **skin** (4 values): the skin-colour measure (mask.py): nose, cheek and chin skin
  fractions and the lips' redness.

OpenCV 5's wheels no longer carry `HOGDescriptor`; the histogram is computed here with
NumPy, as the paper describes it (unsigned gradients, no Gaussian window, no
interpolation between cells).
"""

from __future__ import annotations

import cv2
import numpy as np

from streamwatch.analysis.local.mask import measure_mask

# The chip's face, brow to chin and cheek to cheek (left, right, top, bottom): the chip's
# corners hold background, hair and whatever a frame draws around a face, which say nothing
# of a mask.
FACE_AREA = (16, 96, 28, 108)
SHAPE_PX = 64
CELL_PX = 8
ORIENTATIONS = 9
BLOCK_CLIP = 0.2  # L2-Hys: the normalised block clipped here, then normalised again
COLOUR_GRID = 8
FOREHEAD_CELLS = (slice(0, 1), slice(3, 5))  # rows, columns of the 8x8 grid: the brow
# Scales that bring each part near unit spread before the network's own standardisation.
LIGHTNESS_SCALE = 50.0
CHROMA_SCALE = 20.0
LIP_REDNESS_SCALE = 20.0
FEATURE_LENGTH = (
    ((SHAPE_PX // CELL_PX - 1) ** 2) * 4 * ORIENTATIONS + COLOUR_GRID * COLOUR_GRID * 3 + 4
)


def chip_features(chip: np.ndarray) -> np.ndarray:
    """The feature vector (float32, FEATURE_LENGTH values) of a 112-px BGR chip."""
    left, right, top, bottom = FACE_AREA
    face = chip[top:bottom, left:right]
    return np.concatenate([_shape(face), _colour(face), _skin(chip)]).astype(np.float32)


def _shape(face: np.ndarray) -> np.ndarray:
    small = cv2.resize(face, (SHAPE_PX, SHAPE_PX), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=1)
    magnitude, angle = cv2.cartToPolar(gx, gy, angleInDegrees=True)
    bins = np.minimum(
        (np.mod(angle, 180.0) / (180.0 / ORIENTATIONS)).astype(np.int32), ORIENTATIONS - 1
    )
    cells = SHAPE_PX // CELL_PX
    cell_of = np.arange(SHAPE_PX) // CELL_PX
    index = (cell_of[:, None] * cells + cell_of[None, :]) * ORIENTATIONS + bins
    histogram = np.bincount(
        index.ravel(), weights=magnitude.ravel(), minlength=cells * cells * ORIENTATIONS
    ).reshape(cells, cells, ORIENTATIONS)
    blocks = np.concatenate(
        [histogram[:-1, :-1], histogram[1:, :-1], histogram[:-1, 1:], histogram[1:, 1:]], axis=2
    )
    blocks = np.minimum(_unit(blocks), BLOCK_CLIP)
    return _unit(blocks).ravel()


def _unit(blocks: np.ndarray) -> np.ndarray:
    unit: np.ndarray = blocks / np.sqrt((blocks**2).sum(axis=2, keepdims=True) + 1e-6)
    return unit


def _colour(face: np.ndarray) -> np.ndarray:
    grid = cv2.resize(face, (COLOUR_GRID, COLOUR_GRID), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(grid, cv2.COLOR_BGR2LAB).astype(np.float32)
    rows, columns = FOREHEAD_CELLS
    relative = lab - lab[rows, columns].reshape(-1, 3).mean(axis=0)
    relative[..., 0] /= LIGHTNESS_SCALE
    relative[..., 1:] /= CHROMA_SCALE
    flat: np.ndarray = relative.ravel()
    return flat


def _skin(chip: np.ndarray) -> np.ndarray:
    measure = measure_mask(chip)
    return np.array(
        [
            measure.nose_skin,
            measure.cheek_skin,
            measure.chin_skin,
            measure.lip_redness / LIP_REDNESS_SCALE,
        ],
        dtype=np.float32,
    )
