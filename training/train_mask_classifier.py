"""Train the on-device mask classifier (streamwatch/analysis/local/mask_classifier.py).

    python training/train_mask_classifier.py [--chips DIR] [--out FILE]

Reads ../shared/training/mask_chips (3 293 labelled face chips, CC0; its README says where they
come from), never ../shared/media (that is for measuring only). Seeded and single-threaded:
the same chips give the same weights.

1. Each chip goes through the analyzer's own path: YuNet finds the face (the detection that
   overlaps the annotated box), chip.py aligns it, mask_features.py describes it. Added to
   the training side: the mirror image of each chip (the chip layout is symmetric), and two
   altered copies of each (ALTERED_COPIES): light and contrast changed, half of them
   shrunk to 24-48 px and enlarged back (a far face), and for a masked chip the lower face
   (below the nose) repainted in a random hue and saturation — the chips' masks are mostly
   blue and white surgical ones, and a yellow, red or patterned cloth mask must not read as
   skin. And, as MaskedFace-Net does, each maskless chip once more with a mask painted below
   the nose (labelled incorrect) and once over it (worn): 47 real incorrect chips are too
   few to learn the class from. YuNet runs here at
   TRAINING_MIN_PROBABILITY, below the analyzer's 0.6, to keep more of the small faces: their
   points are a little rougher, which costs nothing at training.
2. The chips are split by source photo (a photo's faces, often the same person in several
   photos of one event, never on both sides): a quarter is held out, never trained on.
3. Two networks, one hidden layer of HIDDEN units each, full-batch Adam with L2: the mask
   network (none / worn / incorrect, classes weighted by their rarity) and the nose network
   (nose shows: no mask or a mask below it; covered: a mask worn). A linear model over the same
   features is trained too, for comparison.
4. Prints, on the held-out quarter: per class recall, the confusion matrix, masked vs maskless
   accuracy for faces under and over 64 px, the false `incorrect` rate on maskless and worn
   faces, for the learned `incorrect` and for the rule (mask present and nose shows), for the
   linear model and for the old skin-colour measure (mask.py); then writes the weights
   (float16) to --out.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, and the same sums every run
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import csv
import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamwatch.analysis.local.chip import aligned_chip  # noqa: E402
from streamwatch.analysis.local.detector import FaceDetector  # noqa: E402
from streamwatch.analysis.local.mask_classifier import (  # noqa: E402
    PARTS,
    WEIGHTS_FILE,
    WEIGHTS_FORMAT,
    IncorrectBy,
    MaskClassifier,
    MaskReading,
    skin_state,
)
from streamwatch.analysis.local.mask_features import FEATURE_LENGTH, chip_features  # noqa: E402
from streamwatch.analysis.local.models import quiet_opencv  # noqa: E402
from streamwatch.analysis.model import Box, Mask, Point  # noqa: E402

CHIPS = REPO.parent / "shared" / "training" / "mask_chips"
OUT = REPO / "streamwatch" / "analysis" / "local" / WEIGHTS_FILE
LABELS = {
    "without_mask": Mask.NONE,
    "with_mask": Mask.WORN,
    "mask_weared_incorrect": Mask.INCORRECT,
}
SEED = 16
HELD_OUT_OF = 4  # one source photo in four is held out
TRAINING_MIN_PROBABILITY = 0.4
MATCH_IOU = 0.3
ALTERED_COPIES = 2
LOWER_FACE_ROW = 64  # chip rows from here down: below the nose tip (y 72) and its wings
HIDDEN = 64
L2 = 1e-3
STEPS = 400
LEARNING_RATE = 0.01
BIG_FACE_PX = 64


@dataclass(frozen=True)
class Sample:
    """One training chip YuNet found, described as the analyzer describes it."""

    features: np.ndarray
    mirrored: np.ndarray
    label: Mask
    width_px: int
    held_out: bool
    extra: np.ndarray  # training-side copies (rows of features)
    extra_labels: tuple[Mask, ...]


@dataclass(frozen=True)
class Found:
    """One training chip's face as YuNet found it: the chip's image and the five points."""

    image: np.ndarray
    points: tuple[Point, ...]
    label: Mask
    width_px: int  # the annotated face's width in the original photo
    held_out: bool


def find_faces(chips_dir: Path) -> list[Found]:
    """Every chip whose annotated face YuNet finds (the detection overlapping the box most)."""
    detector = FaceDetector(TRAINING_MIN_PROBABILITY)
    rows = list(csv.DictReader((chips_dir / "labels.csv").open(encoding="utf-8")))
    found = []
    for row in rows:
        image = cv2.imread(str(chips_dir / row["file"]), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"cannot read {chips_dir / row['file']}")
        scale = float(row["scale"])
        x1, y1, x2, y2 = (float(v) * scale for v in row["box_in_chip"].split(","))
        annotated = Box(x1, y1, x2 - x1, y2 - y1)
        faces = detector.detect(image)
        face = max(faces, key=lambda f: f.box_px.iou(annotated), default=None)
        if face is None or face.box_px.iou(annotated) < MATCH_IOU:
            continue
        found.append(
            Found(
                image=image,
                points=face.landmarks_px,
                label=LABELS[row["label"]],
                width_px=int(row["face_w_px"]),
                held_out=is_held_out(row["source_image"]),
            )
        )
    print(f"chips: {len(rows)}; found by YuNet at p >= {TRAINING_MIN_PROBABILITY}: {len(found)}")
    return found


def load(chips_dir: Path, rng: np.random.Generator) -> list[Sample]:
    samples = []
    for face in find_faces(chips_dir):
        label = face.label
        chip = aligned_chip(face.image, face.points)
        flipped = np.ascontiguousarray(chip[:, ::-1])
        copies = [(flipped, label)] + [
            (altered(flipped if k % 2 else chip, label, rng), label) for k in range(ALTERED_COPIES)
        ]
        if label is Mask.NONE:
            copies += [
                (painted_mask(chip, over_nose=False, rng=rng), Mask.INCORRECT),
                (painted_mask(flipped, over_nose=True, rng=rng), Mask.WORN),
            ]
        samples.append(
            Sample(
                features=chip_features(chip),
                mirrored=chip_features(flipped),
                label=label,
                width_px=face.width_px,
                held_out=face.held_out,
                extra=np.stack([chip_features(c) for c, _ in copies]),
                extra_labels=tuple(lab for _, lab in copies),
            )
        )
    return samples


def is_held_out(source_image: str) -> bool:
    """Whether the chips of this source photo are held out (never trained on)."""
    digest = hashlib.sha256(f"{SEED}:{source_image}".encode()).digest()
    return digest[0] % HELD_OUT_OF == 0


def painted_mask(chip: np.ndarray, *, over_nose: bool, rng: np.random.Generator) -> np.ndarray:
    """A maskless chip with a mask painted on: over the nose (worn) or from under it (worn
    below the nose), in a random colour with a cloth-like grain, edges jittered."""
    top = 60.0 if over_nose else rng.uniform(78.0, 86.0)
    jitter = rng.uniform(-4, 4, size=(4, 2))
    corners = np.array([(19, top), (93, top), (87, 122), (25, 122)], dtype=np.float64) + jitter
    colour = rng.uniform(0, 255, size=3)
    cloth = np.clip(colour + rng.normal(0, rng.uniform(2, 20), chip.shape), 0, 255)
    inside = np.zeros(chip.shape[:2], dtype=np.uint8)
    cv2.fillPoly(inside, [corners.round().astype(np.int32)], 255)
    alpha = cv2.GaussianBlur(inside, (3, 3), 0).astype(np.float32)[..., None] / 255
    painted = chip.astype(np.float32) * (1 - alpha) + cloth * alpha
    return painted.astype(np.uint8)


def altered(chip: np.ndarray, label: Mask, rng: np.random.Generator) -> np.ndarray:
    """A training copy: other light, maybe a far face, a masked chip's mask in another colour."""
    gain, offset = rng.uniform(0.7, 1.3), rng.uniform(-30, 30)
    out: np.ndarray = np.clip(chip.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        side = int(rng.choice([24, 32, 48]))
        small = cv2.resize(out, (side, side), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, out.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    if label is not Mask.NONE:
        hsv = cv2.cvtColor(out, cv2.COLOR_BGR2HSV).astype(np.float32)
        lower = hsv[LOWER_FACE_ROW:]
        lower[..., 0] = np.mod(lower[..., 0] + rng.integers(0, 180), 180)
        lower[..., 1] = np.clip(lower[..., 1] * rng.uniform(0.6, 3.0) + rng.uniform(0, 80), 0, 255)
        out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    return out


def train(
    x: np.ndarray, y: np.ndarray, classes: int, hidden: int, seed: int
) -> Callable[[np.ndarray], np.ndarray]:
    """A softmax network (hidden = 0: linear) by full-batch Adam; returns its weights as a
    function of features, and stores them on the function's `weights` attribute."""
    rng = np.random.default_rng(seed)
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-3
    xs = (x - mean) / scale
    weight = len(y) / (classes * np.bincount(y, minlength=classes))[y]
    weight /= weight.sum()
    target = np.eye(classes)[y]
    width = hidden or classes
    params = [
        rng.normal(0, 1 / np.sqrt(x.shape[1]), (x.shape[1], width)),
        np.zeros(width),
        rng.normal(0, 1 / np.sqrt(width), (width, classes)),
        np.zeros(classes),
    ]
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    for step in range(1, STEPS + 1):
        h = xs @ params[0] + params[1]
        h = np.maximum(h, 0) if hidden else h
        logits = h @ params[2] + params[3]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = (p - target) * weight[:, None]
        gh = g @ params[2].T
        if hidden:
            gh *= h > 0
        grads = [xs.T @ gh + L2 * params[0], gh.sum(0), h.T @ g + L2 * params[2], g.sum(0)]
        for i, grad in enumerate(grads):
            first[i] = 0.9 * first[i] + 0.1 * grad
            second[i] = 0.999 * second[i] + 0.001 * grad**2
            corrected = first[i] / (1 - 0.9**step)
            params[i] -= LEARNING_RATE * corrected / (np.sqrt(second[i] / (1 - 0.999**step)) + 1e-8)

    def predict(features: np.ndarray) -> np.ndarray:
        h = (features - mean) / scale @ params[0] + params[1]
        logits = (np.maximum(h, 0) if hidden else h) @ params[2] + params[3]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        out: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return out

    predict.weights = (mean, scale, *params)  # type: ignore[attr-defined]
    return predict


def figures(name: str, truth: np.ndarray, read: np.ndarray, widths: np.ndarray) -> None:
    confusion = np.zeros((3, 3), dtype=int)
    for t, r in zip(truth, read, strict=True):
        confusion[t, r] += 1
    masked_right = (truth > 0) == (read > 0)
    big = widths >= BIG_FACE_PX
    recall = [confusion[k, k] / max(confusion[k].sum(), 1) for k in range(3)]
    false_incorrect = [confusion[k, 2] / max(confusion[k].sum(), 1) for k in (0, 1)]
    print(
        f"{name}\n"
        f"  masked vs maskless: {masked_right.mean():.1%} (faces < 64 px "
        f"{masked_right[~big].mean():.1%} of {(~big).sum()}, >= 64 px "
        f"{masked_right[big].mean():.1%} of {big.sum()})\n"
        f"  recall: none {recall[0]:.1%}, worn {recall[1]:.1%}, incorrect {recall[2]:.1%}; "
        f"read `incorrect` on {false_incorrect[0]:.1%} of maskless, "
        f"{false_incorrect[1]:.1%} of worn\n"
        f"  confusion (rows truth none/worn/incorrect, columns read): {confusion.tolist()}"
    )


def reading_figures(
    name: str, truth: np.ndarray, readings: list[MaskReading], widths: np.ndarray
) -> None:
    """`figures` of a reader's readings, and how many of them are confident and right."""
    read = np.array([int(r.state) for r in readings])
    figures(name, truth, read, widths)
    confident = np.array([r.confident for r in readings])
    print(
        f"  confident readings: {confident.mean():.1%}, of which right "
        f"{(read[confident] == truth[confident]).mean():.1%}"
    )


def prepare(chips: Path) -> None:
    """What every mask script does first: refuse a missing chips folder with the fix, and
    keep OpenCV quiet and on one thread (the same sums every run)."""
    if not (chips / "labels.csv").is_file():
        raise SystemExit(f"no training chips at {chips} (expected shared/training/mask_chips)")
    quiet_opencv()
    cv2.setNumThreads(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=Path, default=CHIPS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    prepare(args.chips)
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    samples = load(args.chips, rng)
    trained = [s for s in samples if not s.held_out]
    tested = [s for s in samples if s.held_out]
    train_x = np.vstack([np.stack([s.features for s in trained]), *(s.extra for s in trained)])
    train_y = np.array(
        [int(s.label) for s in trained] + [int(m) for s in trained for m in s.extra_labels]
    )
    test_x = np.stack([s.features for s in tested])
    test_y = np.array([int(s.label) for s in tested])
    test_w = np.array([s.width_px for s in tested])
    print(
        f"train: {len(trained)} chips, {len(train_y)} rows with the copies "
        f"(none/worn/incorrect: {np.bincount(train_y, minlength=3).tolist()}); held out: "
        f"{len(tested)} chips (none/worn/incorrect: {np.bincount(test_y, minlength=3).tolist()})"
    )
    mask_net = train(train_x, train_y, 3, HIDDEN, SEED)
    nose_shows = (train_y != int(Mask.WORN)).astype(int)
    nose_net = train(train_x, nose_shows, 2, HIDDEN, SEED + 1)
    linear = train(train_x, train_y, 3, 0, SEED)
    print(f"features and training: {time.perf_counter() - started:.0f} s\n")

    stored: dict[str, np.ndarray] = {
        "format": np.array(WEIGHTS_FORMAT),
        "features": np.array(FEATURE_LENGTH),
        "mean": mask_net.weights[0].astype(np.float16),  # type: ignore[attr-defined]
        "scale": mask_net.weights[1].astype(np.float16),  # type: ignore[attr-defined]
    }
    for prefix, net in (("mask", mask_net), ("nose", nose_net)):
        for part, value in zip(PARTS, net.weights[2:], strict=True):  # type: ignore[attr-defined]
            stored[f"{prefix}_{part}"] = value.astype(np.float16)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # numpy's stubs let a ** mapping fill `allow_pickle` too; these keys are array names.
    np.savez_compressed(args.out, **stored)  # type: ignore[arg-type]

    # The held-out figures of what was written (float16 and all), as the analyzer reads it:
    # the chip and its mirror image.
    test_mirrored = [s.mirrored for s in tested]
    for incorrect_by in IncorrectBy:
        classifier = MaskClassifier(incorrect_by, args.out)
        readings = [
            classifier.read_features(np.stack([f, m]), float(w))
            for f, m, w in zip(test_x, test_mirrored, test_w, strict=True)
        ]
        reading_figures(f"network, incorrect {incorrect_by}", test_y, readings, test_w)
    figures("linear model, incorrect learned", test_y, linear(test_x).argmax(axis=1), test_w)
    figures("network alone (no skin-measure vote)", test_y, mask_net(test_x).argmax(axis=1), test_w)
    old = np.array([int(skin_state(f)) for f in test_x])
    figures("skin-colour measure (mask.py)", test_y, old, test_w)
    print(f"\nwrote {args.out} ({args.out.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
