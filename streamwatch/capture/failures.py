"""Unexpected failures of a camera's source, told safely: what raised, where, never its message."""

from __future__ import annotations

import traceback
from enum import StrEnum
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


class Step(StrEnum):
    """The source's method the reader was in: where an unexpected error came from."""

    OPEN = "open()"
    READ = "read()"
    CLOSE = "close()"
    PROBE = "reachable()"


def describe(error: BaseException, step: Step) -> str:
    """An unexpected error, safe to log: its type, the source's method, the line that raised it
    (the innermost of streamwatch's own). Never its message: an OpenCV or FFmpeg message may
    quote the stream's URL, password and all."""
    kind = type(error)
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if Path(f.filename).resolve().is_relative_to(_PACKAGE_DIR)]
    at = ""
    if innermost := (ours or frames)[-1:]:
        at = f" at {Path(innermost[0].filename).name}:{innermost[0].lineno}"
    return f"{name} in {step}{at}"
