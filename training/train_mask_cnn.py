"""Train the convolutional mask classifier (streamwatch/analysis/local/mask_cnn.py).

    pip install torch==2.13.0 onnx   # for training only; streamwatch runs the ONNX file
    python training/train_mask_cnn.py [--chips DIR] [--out FILE] [--epochs N]

Reads ../shared/training/mask_chips (3 293 labelled face chips, CC0), never ../shared/media.
Seeded and single-threaded: the same chips give the same network.

1. The chips' faces are found and split as the feature classifier's script does
   (train_mask_classifier.find_faces: YuNet's detection of the annotated face, a quarter of
   the source photos held out, never trained on).
2. Each epoch makes every training face anew from its photo, altered for what the network
   must not be fooled by:
   - the alignment jittered (shift, scale, roll of the chip: YuNet's five points move a few
     pixels from frame to frame, and a face read differently for 6 px of them flips);
   - a cloth mask painted on the lower face, in a random colour *or pattern* (stripes,
     checks, dots, blotchy prints, skin-like hues), shaded by the face's own light: on each
     maskless face once over the nose (worn) and once below it (incorrect), as MaskedFace-Net
     does, and over the real mask of some masked faces — the chips' masks are mostly plain
     surgical ones, and patterned and skin-coloured cloth masks read as none;
   - the mirror image, light and colour cast, blur, a far face (shrunk to 16-48 px and
     enlarged back), JPEG.
3. Trains the network (two heads: none / worn / incorrect, classes weighted by their rarity;
   and whether the nose shows), exports it to ONNX once, and reads the held-out quarter
   through that file with OpenCV, as the analyzer does (the chip and its mirror image),
   printing the same figures as train_mask_classifier.py for both ways of deciding
   `incorrect`.

Variants, by their held-out masked vs maskless (the feature classifier: 94.0 %):
- the whole face (brow to chin) at 64x64 in 0..1, classes weighted by their full rarity,
  40 epochs: 94.1 %; by the square root of it: 95.7 %; 60 epochs: 96.3 % (96.6 % with
  `incorrect` said from 0.95); at 32x32 with faces cut at a frame's edge: 97.0 %. Chosen on
  these figures, it then read 13 of ../shared/media's 60 maskless faces as masked (the
  feature classifier: 1) and the maskless man of mask_on_off as worn 0.9: hiding the eyes
  made him none, darkening him halved it — it had learned the training photos' habits from the
  eyes and the light (their 39 maskless faces of 64 px or more against 231 masked);
- what this script makes: the lower face only (from the lower lids down) at 40x32, each chip
  standardised on its own: 95.4 % held out. Made after the media showed the above, so its
  media figures are no longer an independent test.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_mask_classifier import (  # noqa: E402
    CHIPS,
    SEED,
    Found,
    find_faces,
    prepare,
    reading_figures,
)

from streamwatch.analysis.local.chip import CHIP_PX, chip_transform  # noqa: E402
from streamwatch.analysis.local.mask_classifier import IncorrectBy  # noqa: E402
from streamwatch.analysis.local.mask_cnn import (  # noqa: E402
    CNN_FILE,
    INPUT_HEIGHT_PX,
    INPUT_WIDTH_PX,
    MASK_OUTPUTS,
    MaskCnn,
    network_input,
)
from streamwatch.analysis.model import Mask  # noqa: E402

OUT = REPO / "streamwatch" / "analysis" / "local" / CNN_FILE
EPOCHS = 60
BATCH = 64
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-3
# Alignment jitter, in chip pixels and degrees: a few of YuNet's pixels on a face of 100 px.
JITTER_SHIFT_PX = 6.0
JITTER_SCALE = 0.08
JITTER_ROLL_DEG = 8.0
EDGE_CUT = 0.3  # faces given the black edge of a frame or a tight crop
MASKED_REPAINTED = 0.3  # masked faces given a painted mask over their own
# A worn mask's top edge (chip rows): over the nose, below the eyes (y 52); a mask below the
# nose starts under its tip (y 72) and nostrils.
WORN_TOP = (56.0, 64.0)
BELOW_NOSE_TOP = (78.0, 86.0)
SKIN_PATCH = (42, 70, 22, 34)  # the forehead (mask.py's reference), for skin-like cloth


class Network(nn.Module):
    """Four 3x3 convolutions, max-pooled to 4x5, one hidden layer of 64, and the two heads'
    softmaxes side by side: ~13 MFLOPs for a 40x32 input."""

    def __init__(self) -> None:
        super().__init__()

        def block(into: int, out: int, stride: int = 1) -> list[nn.Module]:
            return [
                nn.Conv2d(into, out, 3, stride, 1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(),
            ]

        self.features = nn.Sequential(
            *block(3, 16),
            nn.MaxPool2d(2),
            *block(16, 32),
            *block(32, 32),
            nn.MaxPool2d(2),
            *block(32, 64),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(64 * (INPUT_HEIGHT_PX // 8) * (INPUT_WIDTH_PX // 8), 64),
            nn.ReLU(),
            nn.Linear(64, MASK_OUTPUTS + 2),
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.features(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.logits(x)
        return torch.cat(
            [
                torch.softmax(logits[:, :MASK_OUTPUTS], dim=1),
                torch.softmax(logits[:, MASK_OUTPUTS:], dim=1),
            ],
            dim=1,
        )


def jittered_chip(face: Found, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The face's chip with its alignment moved a little, and that move (2x3, chip to chip)."""
    angle = rng.uniform(-JITTER_ROLL_DEG, JITTER_ROLL_DEG)
    scale = 1.0 + rng.uniform(-JITTER_SCALE, JITTER_SCALE)
    move: np.ndarray = cv2.getRotationMatrix2D((CHIP_PX / 2, CHIP_PX / 2), angle, scale)
    move[:, 2] += rng.uniform(-JITTER_SHIFT_PX, JITTER_SHIFT_PX, size=2)
    whole = np.vstack([move, [0, 0, 1]]) @ np.vstack([chip_transform(face.points), [0, 0, 1]])
    chip = cv2.warpAffine(face.image, whole[:2], (CHIP_PX, CHIP_PX), flags=cv2.INTER_LINEAR)
    return chip, move


def cloth(chip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A CHIP_PX square of mask cloth (float32 BGR): plain, striped, checked, dotted or a
    blotchy print, in random colours, some of them the face's own skin's."""

    def colour() -> np.ndarray:
        pick = rng.random()
        if pick < 0.2:  # skin-like: the forehead's colour, a little off
            left, right, top, bottom = SKIN_PATCH
            skin = np.median(chip[top:bottom, left:right].reshape(-1, 3), axis=0)
            return np.clip(skin * rng.uniform(0.8, 1.2) + rng.normal(0, 12, 3), 0, 255)
        if pick < 0.35:  # black, grey or white
            return np.full(3, rng.uniform(10, 250)) + rng.normal(0, 6, 3)
        return rng.uniform(0, 255, size=3)

    size = CHIP_PX
    base = colour()
    kind = rng.integers(0, 5)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    out: np.ndarray
    if kind == 0:  # plain
        out = np.broadcast_to(base, (size, size, 3)).astype(np.float32)
    elif kind in (1, 2):  # stripes, or checks (stripes both ways)
        other = colour()
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(4, 16)
        along = (xx * np.cos(angle) + yy * np.sin(angle)) / period
        on = (along % 1.0) < rng.uniform(0.3, 0.7)
        if kind == 2:
            across = (-xx * np.sin(angle) + yy * np.cos(angle)) / period
            on = on ^ ((across % 1.0) < 0.5)
        out = np.where(on[..., None], base, other).astype(np.float32)
    elif kind == 3:  # dots or small prints on a ground
        out = np.broadcast_to(base, (size, size, 3)).astype(np.float32).copy()
        inks = [colour() for _ in range(int(rng.integers(1, 4)))]
        for _ in range(int(rng.integers(15, 80))):
            centre = (int(rng.integers(0, size)), int(rng.integers(0, size)))
            ink = inks[int(rng.integers(0, len(inks)))]
            cv2.circle(out, centre, int(rng.integers(1, 6)), ink.tolist(), -1)
    else:  # a blotchy print: a few colours on a coarse random grid, smoothly enlarged
        cells = int(rng.integers(3, 9))
        palette = np.stack([colour() for _ in range(int(rng.integers(2, 5)))])
        grid = palette[rng.integers(0, len(palette), size=(cells, cells))].astype(np.float32)
        out = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, rng.uniform(2, 15), (size, size, 1)).astype(np.float32)
    return np.clip(out + grain, 0, 255)


def painted(
    chip: np.ndarray, move: np.ndarray, *, over_nose: bool, rng: np.random.Generator
) -> np.ndarray:
    """The chip with a cloth mask painted on its lower face, over the nose or below it; its
    outline is placed on the unmoved chip and moved as the chip was (`move`)."""
    top = rng.uniform(*(WORN_TOP if over_nose else BELOW_NOSE_TOP))
    bulge = rng.uniform(0, 8) if over_nose else rng.uniform(0, 3)  # higher over the nose
    xs = np.linspace(19, 93, 9)
    top_edge = np.stack([xs, top + bulge * ((xs - 56) / 37) ** 2], axis=1)
    outline = np.vstack([top_edge, [(87, 124), (25, 124)]]) + rng.uniform(-3, 3, size=(11, 2))
    moved = outline @ move[:, :2].T + move[:, 2]
    inside = np.zeros(chip.shape[:2], dtype=np.uint8)
    cv2.fillPoly(inside, [moved.round().astype(np.int32)], 255)
    alpha = cv2.GaussianBlur(inside, (3, 3), 0).astype(np.float32)[..., None] / 255
    # The face's broad light (not its detail: the mouth must not show through) on the cloth.
    light = cv2.GaussianBlur(cv2.cvtColor(chip, cv2.COLOR_BGR2GRAY), (0, 0), 10).astype(np.float32)
    shade = 0.6 + 0.4 * light / max(float(light.mean()), 1.0)
    fabric = cloth(chip, rng) * shade[..., None]
    if rng.random() < 0.4:  # pleats: a few soft darker rows
        rows = np.arange(CHIP_PX, dtype=np.float32)[:, None, None]
        period = rng.uniform(7, 14)
        fabric *= 1 - 0.2 * (np.sin(2 * np.pi * rows / period) > 0.6)
    out = chip.astype(np.float32) * (1 - alpha) + np.clip(fabric, 0, 255) * alpha
    return out.astype(np.uint8)


def photometric(chip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Other light, colour cast, blur, a far face, JPEG."""
    out: np.ndarray = chip.astype(np.float32) * rng.uniform(0.6, 1.4) + rng.uniform(-35, 35)
    out *= rng.uniform(0.85, 1.15, size=3)  # a colour cast
    out = 255 * (np.clip(out, 0, 255) / 255) ** rng.uniform(0.7, 1.4)
    out = out.astype(np.uint8)
    if rng.random() < 0.4:  # a far face
        side = int(rng.integers(16, 49))
        small = cv2.resize(out, (side, side), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (CHIP_PX, CHIP_PX), interpolation=cv2.INTER_LINEAR)
    elif rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.3:
        quality = int(rng.integers(30, 90))
        ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR) if ok else None
        out = out if decoded is None else decoded
    if rng.random() < 0.05:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return out


def cut_at_an_edge(chip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The chip of a face at the frame's edge, or of a tight crop: black beyond a line on one
    or two sides, as aligned_chip leaves what lies outside the frame (the training chips have
    a margin of 30 %, so they never show it)."""
    out = chip.copy()
    for side in rng.choice(4, size=int(rng.integers(1, 3)), replace=False):
        depth = int(rng.integers(4, 22))
        match side:
            case 0:
                out[:depth] = 0
            case 1:
                out[-depth:] = 0
            case 2:
                out[:, :depth] = 0
            case _:
                out[:, -depth:] = 0
    return out


def epoch_samples(
    faces: list[Found], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One epoch's inputs, mask labels and nose labels (1: the nose shows), made anew."""
    chips: list[np.ndarray] = []
    labels: list[Mask] = []

    def add(chip: np.ndarray, label: Mask) -> None:
        if rng.random() < 0.5:
            chip = np.ascontiguousarray(chip[:, ::-1])
        if rng.random() < EDGE_CUT:
            chip = cut_at_an_edge(chip, rng)
        chips.append(photometric(chip, rng))
        labels.append(label)

    for face in faces:
        chip, move = jittered_chip(face, rng)
        match face.label:
            case Mask.NONE:
                add(chip, Mask.NONE)
                chip, move = jittered_chip(face, rng)
                add(painted(chip, move, over_nose=True, rng=rng), Mask.WORN)
                chip, move = jittered_chip(face, rng)
                add(painted(chip, move, over_nose=False, rng=rng), Mask.INCORRECT)
            case Mask.WORN:
                if rng.random() < MASKED_REPAINTED:
                    chip = painted(chip, move, over_nose=True, rng=rng)
                add(chip, Mask.WORN)
            case Mask.INCORRECT:
                add(chip, Mask.INCORRECT)
    y = np.array([int(label) for label in labels])
    nose = (y != int(Mask.WORN)).astype(np.int64)
    return network_input(chips), y, nose


def train(faces: list[Found], epochs: int) -> Network:
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    net = Network()
    optimiser = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, LEARNING_RATE, total_steps=epochs * (4 * len(faces) // BATCH + 1)
    )
    for epoch in range(epochs):
        started = time.perf_counter()
        x, y, nose = epoch_samples(faces, rng)
        counts = np.bincount(y, minlength=MASK_OUTPUTS)
        # The square root of the classes' rarity: full inverse weights made `none` 2.5 times a
        # `worn` and cost more worn faces than they won maskless ones (held out: 94.1 % masked
        # vs maskless against 95.7 % at 40 epochs).
        rarity = np.sqrt(len(y) / (MASK_OUTPUTS * np.maximum(counts, 1)))
        weights = torch.tensor(rarity, dtype=torch.float32)
        mask_loss = nn.CrossEntropyLoss(weight=weights)
        nose_loss = nn.CrossEntropyLoss()
        net.train()
        order = rng.permutation(len(y))
        total = 0.0
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            logits = net.logits(torch.from_numpy(x[batch]))
            loss = mask_loss(logits[:, :MASK_OUTPUTS], torch.from_numpy(y[batch])) + nose_loss(
                logits[:, MASK_OUTPUTS:], torch.from_numpy(nose[batch])
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if schedule.last_epoch < schedule.total_steps - 1:
                schedule.step()
            total += float(loss.detach()) * len(batch)
        print(
            f"epoch {epoch + 1}/{epochs}: {len(y)} samples {counts.tolist()}, "
            f"loss {total / len(y):.3f}, {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    return net.eval()


def export(net: Network, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        net,
        (torch.zeros(1, 3, INPUT_HEIGHT_PX, INPUT_WIDTH_PX),),
        str(out),
        dynamo=False,
        input_names=["chip"],
        output_names=["mask_and_nose"],
        dynamic_axes={"chip": {0: "faces"}, "mask_and_nose": {0: "faces"}},
        opset_version=13,
    )


def held_out_figures(faces: list[Found], path: Path) -> None:
    """The written file's figures on the held-out faces, read as the analyzer reads them."""
    from streamwatch.analysis.local.chip import aligned_chip

    truth = np.array([int(f.label) for f in faces])
    widths = np.array([f.width_px for f in faces])
    for incorrect_by in IncorrectBy:
        classifier = MaskCnn(incorrect_by, path)
        readings = [classifier.read(aligned_chip(f.image, f.points), f.width_px) for f in faces]
        reading_figures(f"cnn, incorrect {incorrect_by}", truth, readings, widths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=Path, default=CHIPS)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args()
    prepare(args.chips)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    started = time.perf_counter()
    faces = find_faces(args.chips)
    trained = [f for f in faces if not f.held_out]
    tested = [f for f in faces if f.held_out]
    print(
        f"train: {len(trained)} faces; held out: {len(tested)} "
        f"(none/worn/incorrect: {np.bincount([int(f.label) for f in tested]).tolist()})"
    )
    net = train(trained, args.epochs)
    export(net, args.out)
    print(f"training: {time.perf_counter() - started:.0f} s\n")
    held_out_figures(tested, args.out)
    print(f"\nwrote {args.out} ({args.out.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
