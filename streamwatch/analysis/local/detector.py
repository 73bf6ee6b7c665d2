"""The face gate: YuNet's boxes, scores and five points, on any size of image.

YuNet's cost grows with its input area, so a frame is shrunk before it is detected, as far as
the smallest face worth finding allows: `min_face_px` (the call policy's `selection.
min_face_px`, the API's 64 px) becomes YUNET_SMALLEST_FACE_PX in YuNet's input. At 24 px YuNet
still finds 214 of the 224 faces of at least 64 px that it finds at full size in 157 frames of
the media's clips seen at 720p; at 20 px 210, at 16 px 204 (bench/gate_detection.py). Never
narrower than MIN_WIDTH_PX, though: the analysis cuts its chips and reads the pose from these
points, and at 160 px a 240p portrait's pose was off by 13 degrees. Nor wider than
MAX_WIDTH_PX: the cost grows with the area (one run on 4K: 6 ms of CPU at 480 px, 22 at 960,
44 at 1280), so a 4K frame's 64 px faces are 16 px there. So a 720p frame is detected at 480
px wide, as before, and a 1080p one at 720 (the old fixed 480 px made a 64 px face 16 px
there: 237 of 262 found, now 241).

The frame is shrunk with INTER_LINEAR: 0.5 ms of CPU for 1280 -> 480 where INTER_AREA took
2.1 ms, for the same recall (it samples instead of averaging; YuNet does not mind the aliasing
at these factors). Small images (tight face crops) are padded and enlarged instead: a face
that fills the picture defeats the detector's anchors, and a face of 40 px sits at the edge of
its range.

The face gate may look at a region of a frame only (selection/region.py): YuNet then sees that
part of the whole frame's input, on YuNet's grid and with CONTEXT_INPUT_PX of it around (at
its edges YuNet sees padding instead of the picture: with no context a face's points moved by
up to 10 px against a whole look, with 32 px by under 2, and the replays of the media made the
same events as whole looks). A face the region's edge cuts makes it look at the whole frame.

A face that is small in YuNet's input (under SECOND_LOOK_BELOW_INPUT_PX) is looked at again in
the frame itself, at full size: a crop of it with SECOND_LOOK_MARGIN of its size around it. At
24-40 px YuNet's scores, boxes and points are unsure: on entrance_sim's 720p frames it found
13 of the 31 faces of 64-95 px it finds at full size, and measured them 0.74x their size at the
10th percentile, so a visitor with a 72 px face read as 48-54 px, too small for a call, on the
few frames it was found at all. Where it did find a face sure enough, its points could still
be off by a fifth of the face (a maskless visitor tilting her 90 px head: the eyes 17 px to one
side), and a chip aligned on them shows the mask reader a cheek where the mouth should be: it
read `worn` on 18 of her 22 frames, 2 with points from the second look. So a small face is
kept from SECOND_LOOK_FROM_PROBABILITY and its second look decides: the face it finds there
(box, points and score, at full size), or none; a face the first look was sure of is kept when
the second finds nothing. Then 25 of the 31 are found, measured 0.93x at the 10th percentile.
Cost: ~2 ms a second look; 49 in 242 detections of entrance_sim's visitors standing (most of
its faces are 110 px or more), 8 in 197 of the ASL clip at 720p: no difference in CPU a
detection the benchmark can tell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from streamwatch.analysis.local.yunet import YuNet
from streamwatch.analysis.model import Box, Face, Point

# A face this big in YuNet's input is found about as reliably as at full size (docstring).
YUNET_SMALLEST_FACE_PX = 24.0
DEFAULT_MIN_FACE_PX = 64.0
# Narrower, the five points lose the precision the analysis needs; wider costs too much
# (docstring).
MIN_WIDTH_PX = 480
MAX_WIDTH_PX = 960
# Images whose longest side is at most this are crops: padded by SMALL_IMAGE_PADDING of that
# side with mid-grey (a replicated border smears the face's edge into a second "face"), then
# enlarged to this size.
SMALL_IMAGE_PX = 320
SMALL_IMAGE_PADDING = 0.25
PADDING_GREY = (127, 127, 127)
NMS_IOU = 0.3
TOP_K = 5000
MIN_FACE_PX = 8.0
# YuNet's coarsest feature map is its input / 32: it pads its input to a multiple of this.
YUNET_STRIDE_PX = 32
# Of the picture around a region, in YuNet's input pixels (docstring).
CONTEXT_INPUT_PX = 32
# A region is never smaller than this in YuNet's input (a face of 24 px with room around it).
MIN_REGION_INPUT_PX = 64
# A face's box this close to a region's inner edge may be cut by it.
EDGE_PX = 2.0
# Faces smaller than this in YuNet's input get a second look at full size; from this score
# (docstring). 40 px: a 107 px face of a 720p frame, 160 px of a 1080p one.
SECOND_LOOK_BELOW_INPUT_PX = 40.0
SECOND_LOOK_FROM_PROBABILITY = 0.3
# Of the picture around a face in its second look, as a share of its size on each side.
SECOND_LOOK_MARGIN = 0.5


class Shrink(StrEnum):
    """How a frame is shrunk for YuNet."""

    LINEAR = "linear"  # samples the nearest 2x2 source pixels: the default
    AREA = "area"  # averages every source pixel: 5x the cost, no better recall (the old way)

    @property
    def interpolation(self) -> int:
        match self:
            case Shrink.LINEAR:
                return cv2.INTER_LINEAR
            case Shrink.AREA:
                return cv2.INTER_AREA


@dataclass(frozen=True, slots=True)
class DetectorSize:
    """How big YuNet sees a frame: shrunk so that a face of `min_face_px` (frame pixels)
    becomes YUNET_SMALLEST_FACE_PX, within MIN_WIDTH_PX..MAX_WIDTH_PX, and never enlarged;
    or, with `width_px`, that wide whatever the frame (the old fixed 480 px, kept for the
    benchmark)."""

    min_face_px: float = DEFAULT_MIN_FACE_PX
    width_px: int | None = None
    shrink: Shrink = Shrink.LINEAR

    def __post_init__(self) -> None:
        if self.min_face_px <= 0 or (self.width_px is not None and self.width_px < 1):
            raise ValueError(f"a detector size needs positive sizes, got {self}")

    def width_for(self, frame_width_px: int) -> int:
        if self.width_px is not None:
            return min(self.width_px, frame_width_px)
        wanted = math.ceil(frame_width_px * YUNET_SMALLEST_FACE_PX / self.min_face_px)
        return min(max(wanted, MIN_WIDTH_PX), MAX_WIDTH_PX, frame_width_px)


DEFAULT_SIZE = DetectorSize()


@dataclass(frozen=True, slots=True)
class DetectorInput:
    """The image YuNet sees, and how to map its coordinates back to the frame's:
    x = x_in * scale + left_px, y = y_in * scale + top_px. `crop`: the part of the frame it
    shows (None: all of it)."""

    image: np.ndarray
    scale: float
    left_px: float = 0.0
    top_px: float = 0.0
    crop: Crop | None = None


@dataclass(frozen=True, slots=True)
class Crop:
    """A rectangle of the frame, in frame pixels."""

    left: float
    top: float
    right: float
    bottom: float

    def cuts(self, box: Box, frame_width_px: float, frame_height_px: float) -> bool:
        """Whether `box` reaches an edge of the crop that is not an edge of the frame: the
        face may go on beyond it."""
        return (
            (self.left > 0 and box.left <= self.left + EDGE_PX)
            or (self.top > 0 and box.top <= self.top + EDGE_PX)
            or (self.right < frame_width_px and box.right >= self.right - EDGE_PX)
            or (self.bottom < frame_height_px and box.bottom >= self.bottom - EDGE_PX)
        )


def detector_input(
    image: np.ndarray, size: DetectorSize, region: Box | None = None
) -> DetectorInput:
    """What YuNet sees of `image`: all of it, or only `region` (frame pixels) of it.

    A region is cut out of the whole frame's input with CONTEXT_INPUT_PX around it, on YuNet's
    coarsest grid (every YUNET_STRIDE_PX of its input), so that YuNet sees the very pixels, on
    the very anchors, of a whole look there (cut from the frame and shrunk on its own, a
    region's pixels fell between the whole look's, and YuNet found a hand a whole look did
    not). Shrinking the whole frame is cheap (0.5 ms at 720p); YuNet's cost is in the area it
    sees.
    """
    height_px, frame_width_px = image.shape[:2]
    longest_px = max(height_px, frame_width_px)
    if longest_px <= SMALL_IMAGE_PX:
        border = round(longest_px * SMALL_IMAGE_PADDING)
        padded = cv2.copyMakeBorder(
            image, border, border, border, border, cv2.BORDER_CONSTANT, value=PADDING_GREY
        )
        factor = SMALL_IMAGE_PX / max(padded.shape[:2])
        enlarged = (round(padded.shape[1] * factor), round(padded.shape[0] * factor))
        return DetectorInput(
            cv2.resize(padded, enlarged, interpolation=cv2.INTER_LINEAR),
            1 / factor,
            -border,
            -border,
        )
    whole = _shrunk(image, size)
    if region is None:
        return whole
    scale = whole.scale
    input_height_px, input_width_px = whole.image.shape[:2]
    context = CONTEXT_INPUT_PX
    left, right = _span(
        region.left / scale - context, region.right / scale + context, input_width_px
    )
    top, bottom = _span(
        region.top / scale - context, region.bottom / scale + context, input_height_px
    )
    if (left, top, right, bottom) == (0, 0, input_width_px, input_height_px):
        return whole
    crop = Crop(left * scale, top * scale, right * scale, bottom * scale)
    return DetectorInput(whole.image[top:bottom, left:right], scale, crop.left, crop.top, crop)


def _shrunk(image: np.ndarray, size: DetectorSize) -> DetectorInput:
    height_px, frame_width_px = image.shape[:2]
    width_px = size.width_for(frame_width_px)
    if width_px >= frame_width_px:
        return DetectorInput(image, 1.0)
    scale = frame_width_px / width_px
    shrunk = (width_px, max(1, round(height_px / scale)))
    return DetectorInput(cv2.resize(image, shrunk, interpolation=size.shrink.interpolation), scale)


def _span(first: float, last: float, length_px: int) -> tuple[int, int]:
    """[first, last) of YuNet's input grown to its grid, at least MIN_REGION_INPUT_PX long,
    within [0, length_px)."""
    start = math.floor(max(0.0, first) / YUNET_STRIDE_PX) * YUNET_STRIDE_PX
    end = math.ceil(min(float(length_px), last) / YUNET_STRIDE_PX) * YUNET_STRIDE_PX
    if end - start < MIN_REGION_INPUT_PX:
        end = start + MIN_REGION_INPUT_PX
    end = min(end, length_px)
    start = max(0, min(start, end - MIN_REGION_INPUT_PX))
    return start, end


class FaceDetector:
    """YuNet (yunet.py) on any image or region of one. Not thread-safe: one caller at a time
    (its count of second looks)."""

    def __init__(self, min_probability: float, size: DetectorSize = DEFAULT_SIZE) -> None:
        if not 0.0 < min_probability < 1.0:
            raise ValueError(
                f"min_face_probability must be between 0 and 1 (exclusive), got {min_probability}"
            )
        self._size = size
        self._min_probability = min_probability
        self._net = YuNet(min(min_probability, SECOND_LOOK_FROM_PROBABILITY), NMS_IOU, TOP_K)
        self.second_looks = 0  # how many small faces were looked at again (benchmarks)

    def detect(self, image: np.ndarray, region: Box | None = None) -> list[Face]:
        """Faces with box, probability and YuNet's five points, in `image` pixels.

        `region`: where to look (image pixels; None: everywhere). A face its edge cuts makes
        the detector look at the whole image after all: it may be bigger than what it saw.
        """
        prepared = detector_input(image, self._size, region)
        faces = self._faces(prepared)
        crop = prepared.crop
        height_px, width_px = image.shape[:2]
        if crop is not None and any(crop.cuts(f.box_px, width_px, height_px) for f in faces):
            prepared = detector_input(image, self._size)
            faces = self._faces(prepared)
        return self._looked_at_again(image, faces, prepared.scale)

    def _looked_at_again(self, image: np.ndarray, faces: list[Face], scale: float) -> list[Face]:
        """The faces sure enough as YuNet saw them, and the small ones as their second look
        at full size found them (module docstring)."""
        kept: list[Face] = []
        for face in faces:
            if self._sure_enough(face, scale):
                again = None
            else:
                self.second_looks += 1
                again = self._second_look(image, face.box_px)
            if again is None and face.probability >= self._min_probability:
                again = face
            if again is not None and all(again.box_px.iou(k.box_px) < NMS_IOU for k in kept):
                kept.append(again)
        return kept

    @staticmethod
    def _sure_enough(face: Face, scale: float) -> bool:
        """Whether YuNet's first look can be taken as it is: the face is big in its input, or
        the frame was not shrunk (module docstring)."""
        return face.box_px.size_px / scale >= SECOND_LOOK_BELOW_INPUT_PX or scale <= 1.0

    def _second_look(self, image: np.ndarray, box: Box) -> Face | None:
        height_px, width_px = image.shape[:2]
        margin_px = box.size_px * SECOND_LOOK_MARGIN
        left, top = max(0, int(box.left - margin_px)), max(0, int(box.top - margin_px))
        right = min(width_px, math.ceil(box.right + margin_px))
        bottom = min(height_px, math.ceil(box.bottom + margin_px))
        crop = DetectorInput(image[top:bottom, left:right], 1.0, left, top)
        found = [
            face
            for face in self._faces(crop)
            if face.probability >= self._min_probability and face.box_px.iou(box) > 0.0
        ]
        return max(found, key=lambda face: face.box_px.iou(box), default=None)

    def _faces(self, prepared: DetectorInput) -> list[Face]:
        faces = [_face(row, prepared) for row in self._net.detect(prepared.image)]
        return [face for face in faces if min(face.box_px.width, face.box_px.height) >= MIN_FACE_PX]


def _face(row: np.ndarray, prepared: DetectorInput) -> Face:
    # A YuNet row: box (x, y, w, h); right eye, left eye, nose tip, right and left mouth
    # corners (the subject's right and left: image left first); score.
    values = row[:14].astype(np.float64) * prepared.scale
    xs = values[0::2] + prepared.left_px
    ys = values[1::2] + prepared.top_px
    box = Box(float(xs[0]), float(ys[0]), float(values[2]), float(values[3]))
    points = tuple(Point(float(x), float(y)) for x, y in zip(xs[2:], ys[2:], strict=True))
    return Face(box_px=box, probability=float(row[14]), landmarks_px=points)
