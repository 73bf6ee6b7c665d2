"""The Analyzer protocol every analyzer (local, cloud) follows, and its errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from streamwatch.analysis.model import Face, FaceAnalysis

LOCAL_ANALYZER = "local"  # the name of the on-device analyzer, whose detector is the gate's


class AnalyzerError(Exception):
    """An analysis that could not be made. The message never contains a secret.

    `reason` is a short stable word for counters and health ("timeout", "auth", "credits",
    "server", "bad_image", "malformed", …); `retryable` says whether the same image may be
    sent again later.
    """

    def __init__(
        self, message: str, *, reason: str, retryable: bool, request_id: str | None = None
    ) -> None:
        super().__init__(message if request_id is None else f"{message} (request_id {request_id})")
        self.reason = reason
        self.retryable = retryable
        self.request_id = request_id


class RequestPermit(Protocol):
    """The call budget's say over each request a cloud call sends (budget.CallPermit)."""

    async def attempt(self) -> None:
        """Wait until one more request may be sent, and count it; raise when none may."""
        ...


class Analyzer(Protocol):
    """Finds and describes the faces of one BGR image; coordinates in that image's pixels.

    Analyzers are async context managers: resources (an HTTP session, a model) live between
    `__aenter__` and `__aexit__`.
    """

    name: str

    async def analyze(self, image: np.ndarray) -> FaceAnalysis: ...

    async def __aenter__(self) -> Analyzer: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


class DeviceAnalyzer(Analyzer, Protocol):
    """An analyzer whose detector is the face gate's (LocalAnalyzer): it can describe the faces
    the gate found in an image without looking for them again."""

    async def describe(self, image: np.ndarray, faces: Sequence[Face]) -> FaceAnalysis: ...
