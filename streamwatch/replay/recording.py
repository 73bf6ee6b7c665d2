"""The recording a replay plays: what it is (probed before anything starts), and its end."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streamwatch.camera_url import is_stream_url, redact
from streamwatch.capture.sources import VideoSource

DEMO = "demo"


class ReplayError(Exception):
    """A replay that cannot start; the message names the fix."""


@dataclass(frozen=True, slots=True)
class Recording:
    source: str  # "demo", or the video file's path
    fps: float
    width_px: int
    height_px: int
    frames: int | None  # frames to replay (None: the file does not say; to its end)

    @property
    def name(self) -> str:
        return DEMO if self.source == DEMO else Path(self.source).name

    @property
    def duration_s(self) -> float | None:
        return None if self.frames is None else self.frames / self.fps


def probe(video: str, duration_s: float | None = None) -> Recording:
    """The recording `video` names ("demo" or a video file), up to `duration_s` of it."""
    if duration_s is not None and duration_s <= 0:
        raise ReplayError("--duration must be a positive number of seconds")
    if video == DEMO:
        from streamwatch.capture.demo import FPS, FRAME_SIZE_PX

        if duration_s is None:
            raise ReplayError("the demo scene never ends: give --duration S")
        return Recording(DEMO, FPS, *FRAME_SIZE_PX, frames=math.ceil(duration_s * FPS))
    if is_stream_url(video) or video.startswith(("usb:", "/dev/video")):
        raise ReplayError(
            f"{redact(video)}: replay takes a recording (a video file) or 'demo', not a camera"
        )
    path = Path(video).expanduser()
    if not path.is_file():
        raise ReplayError(f"{video}: no such file")
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        ok, image = capture.read()
        if not capture.isOpened() or not ok or image is None or not 0 < fps < 1000:
            raise ReplayError(
                f"{video}: not a video OpenCV can read (mp4, mkv, avi, … with a frame rate)"
            )
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()
    frames = count if count > 0 else None
    if duration_s is not None:
        wanted = math.ceil(duration_s * fps)
        frames = wanted if frames is None else min(frames, wanted)
    return Recording(str(path), fps, int(image.shape[1]), int(image.shape[0]), frames)


class EndAfter:
    """A source that ends after `frames` frames (a replay's --duration), as a file ends."""

    finite = True

    def __init__(self, source: VideoSource, frames: int) -> None:
        self._source = source
        self._frames = frames
        self._read = 0
        self.description = source.description
        self.pace_fps = source.pace_fps

    def open(self) -> None:
        self._source.open()
        self.pace_fps = self._source.pace_fps
        self._read = 0

    def read(self) -> np.ndarray | None:
        if self._read >= self._frames:
            return None
        self._read += 1
        return self._source.read()

    def position_ms(self) -> float | None:
        return self._source.position_ms()

    def reachable(self) -> bool:
        return self._source.reachable()

    def close(self) -> None:
        self._source.close()
