"""The mask readers side by side on the held-out training chips (never trained on).

    python training/evaluate_mask_readers.py [--chips DIR]

The chips' faces are found and split as both training scripts find and split them
(train_mask_classifier.find_faces: a quarter of the source photos held out, never trained on),
and each held-out face is read as the analyzer reads it (its aligned chip and mirror image, the
annotated face's width as its size) by the shipped feature classifier, the shipped CNN, the CNN
never saying `incorrect`, and the two together (mask_ensemble.py, both ways of splitting a mask
between worn and incorrect; and, for comparison, their probabilities' plain mean). Per reader:
masked vs maskless (all, < 64 px, >= 64 px), the recall of each state, `incorrect` read on
maskless and on worn faces, and the share of readings that are confident (>= 0.85) with how
many of those are right: the gate reports only confident readings, and an unsure first answer
costs an `undecided` call.

This is where variants and thresholds are chosen; ../shared/media (bench/local_analyzer.py) is
the evaluation, never chosen on. Single-threaded, no randomness: the same figures every run.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_mask_classifier import BIG_FACE_PX, CHIPS, find_faces, prepare  # noqa: E402

from streamwatch.analysis.local.chip import aligned_chip  # noqa: E402
from streamwatch.analysis.local.mask_classifier import (  # noqa: E402
    IncorrectBy,
    MaskClassifier,
    MaskReading,
    reading_of,
)
from streamwatch.analysis.local.mask_cnn import MaskCnn  # noqa: E402
from streamwatch.analysis.local.mask_ensemble import (  # noqa: E402
    IncorrectFrom,
    MaskEnsemble,
    share_below_nose,
)
from streamwatch.analysis.local.mask_reader import combine  # noqa: E402
from streamwatch.analysis.model import Mask  # noqa: E402

Reader = Callable[[MaskReading, MaskReading], MaskReading]  # of (features', CNN's) readings


def readers(classifier: MaskClassifier, cnn: MaskCnn) -> dict[str, Reader]:
    ensembles = {
        source: MaskEnsemble(incorrect_from=source, features=classifier, cnn=cnn)
        for source in IncorrectFrom
    }
    return {
        "features (default)": lambda f, _: f,
        "cnn": lambda _, c: c,
        "cnn, never incorrect": lambda _, c: reading_of(
            c.probabilities, c.nose_visible, IncorrectBy.LEARNED, math.inf
        ),
        "ensemble, incorrect averaged": ensembles[IncorrectFrom.AVERAGE].combine,
        "ensemble, incorrect from features": ensembles[IncorrectFrom.FEATURES].combine,
        "ensemble, probabilities' mean": mean_of_probabilities,
        "cnn, incorrect from features": combine,
    }


def mean_of_probabilities(features: MaskReading, cnn: MaskReading) -> MaskReading:
    """The ensemble pooling probabilities instead of log-odds (`incorrect` from the features),
    for comparison: as right, but fewer readings confident."""
    none = (features.probabilities[0] + cnn.probabilities[0]) / 2
    nose = (features.nose_visible + cnn.nose_visible) / 2
    incorrect = (1 - none) * share_below_nose(features)
    return reading_of((none, 1 - none - incorrect, incorrect), nose, IncorrectBy.LEARNED)


def share(hits: np.ndarray) -> str:
    return f"{hits.mean():6.1%}" if len(hits) else "    -"


def row(name: str, truth: np.ndarray, readings: list[MaskReading], widths: np.ndarray) -> str:
    read = np.array([int(r.state) for r in readings])
    confident = np.array([r.confident for r in readings])
    masked_right = (truth > 0) == (read > 0)
    big = widths >= BIG_FACE_PX
    none, worn, incorrect = (
        truth == int(state) for state in (Mask.NONE, Mask.WORN, Mask.INCORRECT)
    )
    said_incorrect = read == int(Mask.INCORRECT)
    return (
        f"{name:34} {share(masked_right)} {share(masked_right[~big])} {share(masked_right[big])}"
        f" {share(read[none] == int(Mask.NONE))} {share(read[worn] == int(Mask.WORN))}"
        f" {share(said_incorrect[none])} {share(said_incorrect[worn])}"
        f" {share(said_incorrect[incorrect])} {share(confident)}"
        f" {share(read[confident] == truth[confident])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=Path, default=CHIPS)
    args = parser.parse_args()
    prepare(args.chips)
    faces = [f for f in find_faces(args.chips) if f.held_out]
    truth = np.array([int(f.label) for f in faces])
    widths = np.array([f.width_px for f in faces])
    classifier, cnn = MaskClassifier(), MaskCnn()
    both = []
    for face in faces:
        chip = aligned_chip(face.image, face.points)
        both.append((classifier.read(chip, face.width_px), cnn.read(chip, face.width_px)))
    counts = np.bincount(truth, minlength=3).tolist()
    big = int((widths >= BIG_FACE_PX).sum())
    print(
        f"held out: {len(faces)} faces (none/worn/incorrect {counts}; "
        f"{len(faces) - big} < {BIG_FACE_PX} px, {big} >= {BIG_FACE_PX} px)\n"
    )
    print(
        f"{'':34} {'masked vs maskless':20} {'recall':13} {'incorrect read on':13}"
        f" {'incorrect':9} {'confident':14}\n"
        f"{'reader':34} {'all':>6} {'< 64':>6} {'>= 64':>6} {'none':>6} {'worn':>6}"
        f" {'maskless':>6} {'worn':>6} {'recall':>6} {'share':>6} {'right':>6}"
    )
    for name, reader in readers(classifier, cnn).items():
        print(row(name, truth, [reader(f, c) for f, c in both], widths))


if __name__ == "__main__":
    main()
