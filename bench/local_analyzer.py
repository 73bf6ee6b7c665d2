"""How well and how fast the local analyzer answers, on the real media in ../shared/media.

    python bench/local_analyzer.py [--repeat N]

Prints each table and writes bench/results/local_analyzer.json:
- detection: recall on annotated faces (VOC and dlib boxes; IoU >= 0.3, as the two sets draw
  boxes differently) for faces of at least 64 px and for all; precision of detections of at
  least 64 px; per-frame recall on the ASL clip (one frontal face of 62-86 px per frame);
  false detections on the no-face images; how many single-face crops are found;
- mask: the old skin-colour measure, the feature classifier and the CNN (each with `incorrect`
  by the rule and learned), the two together (mask_ensemble.py) and the analyzer's reader
  (mask_reader.py: the CNN's none or worn, the features' confident `incorrect`) side by side on the
  same chips (the largest face of each image of with_mask / without_mask /
  incorrect_mask(_synthetic)): confusion matrix, masked-vs-maskless accuracy for faces under
  and over 64 px, per class recall, `incorrect` read on maskless and on worn faces, and the
  cost per face;
- signatures: cosine distances between frames of the same person and of different people
  on the ASL clip (5 people, each in two separate takes);
- quality: blur scores of the blurry and sharp crops; pose of the frontal portraits;
- latency: per stage, on one core, for one 640x480 frame with one face.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import platform
import statistics
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from common import median_ms, write_results

from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.local.chip import aligned_chip
from streamwatch.analysis.local.detector import DetectorSize, FaceDetector
from streamwatch.analysis.local.features import expression, eye_distance_px, pupils
from streamwatch.analysis.local.mask import MIN_EYE_DISTANCE_PX, measure_mask
from streamwatch.analysis.local.mask_classifier import IncorrectBy, MaskClassifier
from streamwatch.analysis.local.mask_cnn import MaskCnn
from streamwatch.analysis.local.mask_ensemble import MaskEnsemble
from streamwatch.analysis.local.mask_reader import MaskReader
from streamwatch.analysis.local.pose import estimate_pose
from streamwatch.analysis.local.quality import qualities
from streamwatch.analysis.local.signature import SAME_PERSON_MAX_DISTANCE, SignatureModel
from streamwatch.analysis.model import Box, Face, Mask

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
IMAGES = MEDIA / "images"
RESULTS = Path(__file__).parent / "results" / "local_analyzer.json"
MIN_API_FACE_PX = 64
MATCH_IOU = 0.3
MASK_FOLDERS = ("with_mask", "without_mask", "incorrect_mask", "incorrect_mask_synthetic")
SIGNATURE_FRAMES_PER_TAKE = 4


def read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read {path}")
    return image


def annotated_images() -> list[tuple[Path, list[Box]]]:
    """Every image with face boxes: VOC xml beside it, and dlib's training.xml."""
    found = []
    for xml in sorted([*IMAGES.glob("scenes_annotated/*.xml"), *IMAGES.glob("small_faces/*.xml")]):
        boxes = []
        for item in ET.parse(xml).findall("object"):
            edges = {
                k: float(item.findtext(f"bndbox/{k}", "0"))
                for k in ("xmin", "ymin", "xmax", "ymax")
            }
            boxes.append(
                Box(
                    edges["xmin"],
                    edges["ymin"],
                    edges["xmax"] - edges["xmin"],
                    edges["ymax"] - edges["ymin"],
                )
            )
        found.append((xml.with_suffix(".png"), boxes))
    dlib = IMAGES / "multi_face" / "training.xml"
    for image in ET.parse(dlib).getroot().iter("image"):
        boxes = [
            Box(*(float(b.get(k, "0")) for k in ("left", "top", "width", "height")))
            for b in image.iter("box")
        ]
        found.append((dlib.parent / str(image.get("file")), boxes))
    return found


def is_api_size(box: Box) -> bool:
    return min(box.width, box.height) >= MIN_API_FACE_PX


def detection_table(detector: FaceDetector) -> dict[str, object]:
    truth_big = truth_all = found_big = found_all = 0
    detections_big = false_big = 0
    for path, boxes in annotated_images():
        faces = detector.detect(read(path))
        for box in boxes:
            hit = any(face.box_px.iou(box) >= MATCH_IOU for face in faces)
            truth_all += 1
            found_all += hit
            if is_api_size(box):
                truth_big += 1
                found_big += hit
        for face in faces:
            if is_api_size(face.box_px):
                detections_big += 1
                false_big += not any(face.box_px.iou(box) >= MATCH_IOU for box in boxes)
    no_face = {
        p.name: len(detector.detect(read(p))) for p in sorted((IMAGES / "no_face").iterdir())
    }
    crops = {}
    for folder in (*MASK_FOLDERS, "faces", "blur/blurry", "blur/sharp"):
        paths = sorted((IMAGES / folder).iterdir())
        crops[folder] = f"{sum(bool(detector.detect(read(p))) for p in paths)}/{len(paths)}"
    asl = asl_frames()
    asl_found = sum(len(detector.detect(frame)) >= 1 for _, frame in asl)
    asl_extra = sum(len(detector.detect(frame)) > 1 for _, frame in asl)
    return {
        "annotated_faces_ge_64px": truth_big,
        "recall_ge_64px": round(found_big / max(truth_big, 1), 3),
        "annotated_faces_all_sizes": truth_all,
        "recall_all_sizes": round(found_all / max(truth_all, 1), 3),
        "detections_ge_64px": detections_big,
        "precision_ge_64px": round(1 - false_big / max(detections_big, 1), 3),
        "asl_frames": len(asl),
        "asl_frame_recall": round(asl_found / max(len(asl), 1), 3),
        "asl_frames_with_a_second_detection": asl_extra,
        "no_face_image_detections": no_face,
        "single_face_crops_found": crops,
    }


def largest(faces: tuple[Face, ...]) -> Face | None:
    return max(faces, key=lambda f: f.box_px.area, default=None)


TRUTH_OF_FOLDER = {
    "with_mask": Mask.WORN,
    "without_mask": Mask.NONE,
    "incorrect_mask": Mask.INCORRECT,
    "incorrect_mask_synthetic": Mask.INCORRECT,
}


def mask_readers() -> dict[str, Callable[[np.ndarray, float], Mask]]:
    """Every way to read the mask state of a face's chip (and its size), side by side."""
    rule = MaskClassifier(IncorrectBy.RULE)
    learned = MaskClassifier(IncorrectBy.LEARNED)
    cnn_rule = MaskCnn(IncorrectBy.RULE)
    cnn_learned = MaskCnn(IncorrectBy.LEARNED)
    ensemble = MaskEnsemble(IncorrectBy.LEARNED, features=learned, cnn=cnn_learned)
    reader = MaskReader(features=learned, cnn=cnn_learned)
    return {
        "skin_colour_measure": lambda chip, _: measure_mask(chip).state,
        "classifier_incorrect_by_rule": lambda chip, size: rule.read(chip, size).state,
        "classifier_incorrect_learned": lambda chip, size: learned.read(chip, size).state,
        "cnn_incorrect_by_rule": lambda chip, size: cnn_rule.read(chip, size).state,
        "cnn_incorrect_learned": lambda chip, size: cnn_learned.read(chip, size).state,
        "ensemble_incorrect_learned": lambda chip, size: ensemble.read(chip, size).state,
        "analyzer_reader": lambda chip, size: reader.read(chip, size).state,
    }


def mask_chips(detector: FaceDetector) -> list[tuple[str, float, np.ndarray | None]]:
    """(folder, face size px, chip) of the largest face of each mask image; chip None when
    no face is found or it is too small to read (an eye distance under MIN_EYE_DISTANCE_PX)."""
    found: list[tuple[str, float, np.ndarray | None]] = []
    for folder in MASK_FOLDERS:
        for path in sorted((IMAGES / folder).iterdir()):
            face = largest(tuple(detector.detect(read(path))))
            if face is None or eye_distance_px(face.landmarks_px) < MIN_EYE_DISTANCE_PX:
                found.append((folder, 0.0 if face is None else face.box_px.size_px, None))
                continue
            found.append((folder, face.box_px.size_px, aligned_chip(read(path), face.landmarks_px)))
    return found


def mask_table(detector: FaceDetector) -> dict[str, object]:
    """Per reader: confusion matrix, masked-vs-maskless accuracy by face size, per class
    recall, the false `incorrect` rate and the cost per face, on the same chips."""
    chips = mask_chips(detector)
    table: dict[str, object] = {
        "images": dict(Counter(folder for folder, _, _ in chips)),
        "faces_read": dict(Counter(folder for folder, _, chip in chips if chip is not None)),
        "faces_ge_64px_read": dict(
            Counter(folder for folder, size, chip in chips if chip is not None and size >= 64)
        ),
    }
    for name, reader in mask_readers().items():
        read = [
            (folder, size, reader(chip, size)) for folder, size, chip in chips if chip is not None
        ]
        confusion: dict[str, Counter[str]] = {folder: Counter() for folder in MASK_FOLDERS}
        for folder, _, state in read:
            confusion[folder][state.name.lower()] += 1

        def masked_accuracy(
            small: bool | None, rows: list[tuple[str, float, Mask]] = read
        ) -> object:
            judged = [
                (TRUTH_OF_FOLDER[folder] is Mask.WORN, state is not Mask.NONE)
                for folder, size, state in rows
                if folder in ("with_mask", "without_mask")
                and (small is None or (size < MIN_API_FACE_PX) == small)
            ]
            right = sum(truth == guess for truth, guess in judged)
            return {
                "right": right,
                "of": len(judged),
                "accuracy": round(right / max(len(judged), 1), 3),
            }

        def share(
            folders: tuple[str, ...], state: Mask, read: list[tuple[str, float, Mask]] = read
        ) -> float:
            rows = [s for f, _, s in read if f in folders]
            return round(sum(s is state for s in rows) / max(len(rows), 1), 3)

        sample, sample_px = next((c, s) for _, s, c in chips if c is not None)
        table[name] = {
            "confusion": {folder: dict(counts) for folder, counts in confusion.items()},
            "masked_vs_maskless": masked_accuracy(None),
            "masked_vs_maskless_lt_64px": masked_accuracy(True),
            "masked_vs_maskless_ge_64px": masked_accuracy(False),
            "recall": {
                "none": share(("without_mask",), Mask.NONE),
                "worn": share(("with_mask",), Mask.WORN),
                "incorrect_real": share(("incorrect_mask",), Mask.INCORRECT),
                "incorrect_synthetic": share(("incorrect_mask_synthetic",), Mask.INCORRECT),
            },
            "incorrect_read_on_maskless": share(("without_mask",), Mask.INCORRECT),
            "incorrect_read_on_worn": share(("with_mask",), Mask.INCORRECT),
            "ms_per_face": median_ms(partial(reader, sample, sample_px), 50),
        }
    return table


def asl_frames() -> list[tuple[str, np.ndarray]]:
    """(person, frame) at evenly spaced times inside each take of the ASL clip."""
    clip = MEDIA / "videos" / "asl_5people_sequence.mp4"
    truth = json.loads(clip.with_suffix(".truth.json").read_text())
    capture = cv2.VideoCapture(str(clip))
    frames = []
    for take in truth["segments"]:
        span_s = take["end_s"] - take["start_s"]
        for k in range(SIGNATURE_FRAMES_PER_TAKE):
            at_s = take["start_s"] + span_s * (k + 0.5) / SIGNATURE_FRAMES_PER_TAKE
            capture.set(cv2.CAP_PROP_POS_MSEC, at_s * 1000)
            ok, frame = capture.read()
            if ok:
                frames.append((str(take["person"]), frame))
    capture.release()
    return frames


def signature_table(analyzer: LocalAnalyzer) -> dict[str, object]:
    signed = []
    for person, frame in asl_frames():
        face = largest(analyzer.analyze_sync(frame).faces)
        if face is not None and face.signature is not None:
            signed.append((person, face.signature))
    same: list[float] = []
    different: list[float] = []
    for (a, sa), (b, sb) in itertools.combinations(signed, 2):
        (same if a == b else different).append(sa.cosine_distance(sb))

    def summary(values: list[float]) -> dict[str, float]:
        q = np.percentile(values, [5, 50, 95]) if values else [float("nan")] * 3
        return {
            "pairs": len(values),
            "p5": round(q[0], 3),
            "median": round(q[1], 3),
            "p95": round(q[2], 3),
        }

    right = sum(d <= SAME_PERSON_MAX_DISTANCE for d in same) + sum(
        d > SAME_PERSON_MAX_DISTANCE for d in different
    )
    return {
        "faces": len(signed),
        "same_person": summary(same),
        "different_people": summary(different),
        "threshold": round(SAME_PERSON_MAX_DISTANCE, 3),
        "pair_accuracy_at_threshold": round(right / max(len(same) + len(different), 1), 3),
    }


def quality_table(analyzer: LocalAnalyzer) -> dict[str, object]:
    blur = {}
    for folder in ("blur/blurry", "blur/sharp"):
        scores = [
            face.qualities.blur
            for p in sorted((IMAGES / folder).iterdir())
            if (face := largest(analyzer.analyze_sync(read(p)).faces))
            and face.qualities.blur is not None
        ]
        blur[folder] = {
            "faces": len(scores),
            "median": round(statistics.median(scores), 1),
            "max": max(scores),
            "min": min(scores),
        }
    poses = {}
    for name in ("obama.jpg", "obama-720p.jpg", "obama-240p.jpg"):
        face = largest(analyzer.analyze_sync(read(IMAGES / "faces" / name)).faces)
        if face is not None and face.pose is not None:
            poses[name] = [face.pose.yaw_deg, face.pose.pitch_deg, face.pose.roll_deg]
    return {"blur_score": blur, "frontal_pose_yaw_pitch_roll_deg": poses}


def latency_table(analyzer: LocalAnalyzer, repeat: int) -> dict[str, float]:
    frame = cv2.resize(
        read(IMAGES / "faces" / "obama-720p.jpg"), (640, 480), interpolation=cv2.INTER_AREA
    )
    face = analyzer.detect_sync(frame).faces[0]
    points = face.landmarks_px
    chip = aligned_chip(frame, points)
    signatures = SignatureModel()
    pose = estimate_pose(points, 640, 480)
    gate480 = FaceDetector(0.6, DetectorSize(width_px=480))
    gate640 = FaceDetector(0.6, DetectorSize(width_px=640))
    classifier = MaskClassifier()
    cnn = MaskCnn()
    ensemble = MaskEnsemble(features=classifier, cnn=cnn)
    reader = MaskReader(features=classifier, cnn=cnn)
    stages = {
        "gate_detect_480w_ms": lambda: gate480.detect(frame),
        "gate_detect_640w_ms": lambda: gate640.detect(frame),
        "chip_ms": lambda: aligned_chip(frame, points),
        "pose_ms": lambda: estimate_pose(points, 640, 480),
        "pupils_and_smile_ms": lambda: (pupils(points), expression(points)),
        "mask_skin_measure_ms": lambda: measure_mask(chip),
        "mask_classifier_ms": lambda: classifier.read(chip, face.box_px.size_px),
        "mask_cnn_ms": lambda: cnn.read(chip, face.box_px.size_px),
        "mask_ensemble_ms": lambda: ensemble.read(chip, face.box_px.size_px),
        "mask_reader_ms": lambda: reader.read(chip, face.box_px.size_px),
        "qualities_ms": lambda: qualities(
            chip=chip, image=frame, box=face.box_px, probability=0.9, pose=pose, lower_face_skin=0.5
        ),
        "signature_ms": lambda: signatures.signature(chip),
        "analyze_one_face_frame_ms": lambda: analyzer.analyze_sync(frame),
    }
    return {name: median_ms(run, repeat) for name, run in stages.items()}


async def main(repeat: int) -> None:
    if not MEDIA.is_dir():
        raise SystemExit(f"development media not found at {MEDIA} (expected ../shared/media)")
    cv2.setNumThreads(1)  # the targets are per core; the edge box has other cameras to serve
    async with LocalAnalyzer() as analyzer:
        gate = FaceDetector(0.6)
        results = {
            "benchmark": "local_analyzer",
            "machine": platform.machine(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "threads": 1,
            "detection": detection_table(gate),
            "mask": mask_table(gate),
            "signatures": signature_table(analyzer),
            "quality": quality_table(analyzer),
            "latency_median": latency_table(analyzer, repeat),
        }
    for section, table in results.items():
        print(
            f"{section}: {json.dumps(table, indent=2)}"
            if isinstance(table, dict)
            else f"{section}: {table}"
        )
    write_results(RESULTS, results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per stage")
    asyncio.run(main(parser.parse_args().repeat))
