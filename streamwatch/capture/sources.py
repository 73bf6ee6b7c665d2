"""Video sources: where a camera's pictures come from.

A source spec in the config is one of: `demo`, `usb:N`, `/dev/videoN`, `rtsp://…` (or
`rtsps://`, `http(s)://` streams) and a video file path. Each becomes a `VideoSource`: open,
read the next picture, close. Sources are used from the camera's reader thread only; FFmpeg's
options reach each open through capture/ffmpeg_options.py. A stream's URL is parsed by
streamwatch/camera_url.py: its description shows it redacted, FFmpeg gets it with the user
info percent-encoded. A stream is decoded on its reader thread (`decode_threads = 1`): a live
camera sets the pace, and FFmpeg's frame threads would only hand each frame over later.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from streamwatch.camera_url import CameraUrl, CameraUrlError, is_stream_url, parse_camera_url
from streamwatch.camera_url import redact as redact
from streamwatch.capture.ffmpeg_options import STARTED_WITH, capture_options
from streamwatch.config.model import CameraSettings

_USB = re.compile(r"^(?:usb:(\d+)|/dev/video(\d+))$")
PROBE_TIMEOUT_S = 1.0

# FFmpeg's own messages go straight to stderr, bypassing logging (and a future FFmpeg might
# print a URL with its password): keep it quiet; streamwatch logs what failed itself.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class SourceError(Exception):
    """A source that cannot be opened or configured; the message has no credentials in it."""


class VideoSource(Protocol):
    description: str  # safe to log: credentials redacted
    # Frames per second to pace reads at (a file played in real time), or None to read as
    # fast as the source delivers (live cameras block in read() until the next frame).
    pace_fps: float | None
    # A source that ends (a file) rather than fails: reaching the end is not an error.
    finite: bool

    def open(self) -> None: ...

    def read(self) -> np.ndarray | None:
        """The next BGR picture, or None when the stream ended or failed."""
        ...

    def position_ms(self) -> float | None:
        """The stream time of the last picture read, when the source knows it."""
        ...

    def reachable(self) -> bool:
        """Whether it is worth trying to open now (a cheap check: a TCP connect for streams)."""
        ...

    def close(self) -> None: ...


def open_source(camera: CameraSettings) -> VideoSource:
    """The source a camera's `source` spec names; SourceError when it cannot exist."""
    spec = camera.source.strip()
    if spec == "demo":
        from streamwatch.capture.demo import DemoSource

        return DemoSource()
    usb = _USB.match(spec)
    if usb:
        return UsbSource(int(usb.group(1) or usb.group(2)), camera)
    if is_stream_url(spec):
        try:
            return StreamSource(parse_camera_url(spec), camera)
        except CameraUrlError as error:  # the config's check lets none through
            raise SourceError(f"camera {camera.name!r}: source: {error}") from None
    path = Path(spec).expanduser()
    if not path.is_file():
        raise SourceError(
            f"camera {camera.name!r}: source {spec!r} is neither 'demo', 'usb:N', "
            "'/dev/videoN', a stream URL (rtsp://…) nor an existing video file"
        )
    return FileSource(path, camera)


class _OpenCVSource:
    """What every OpenCV-backed source shares: a VideoCapture and its reads."""

    description: str
    pace_fps: float | None = None
    finite = False

    def __init__(self) -> None:
        self._capture: cv2.VideoCapture | None = None

    def _create(self) -> cv2.VideoCapture:
        raise NotImplementedError

    def open(self) -> None:
        self.close()
        capture = self._create()
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open {self.description}")
        self._capture = capture
        self._opened(capture)

    def _opened(self, capture: cv2.VideoCapture) -> None:
        """Hook for what a source learns once open (a file's frame rate)."""

    def read(self) -> np.ndarray | None:
        if self._capture is None:
            return None
        ok, image = self._capture.read()
        return image if ok and image is not None else None

    def position_ms(self) -> float | None:
        if self._capture is None:
            return None
        position_ms = float(self._capture.get(cv2.CAP_PROP_POS_MSEC))
        return position_ms if position_ms > 0 else None  # 0: the back-end does not know

    def reachable(self) -> bool:
        return True

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class FileSource(_OpenCVSource):
    finite = True

    def __init__(self, path: Path, camera: CameraSettings) -> None:
        super().__init__()
        self.path = path
        self.description = f"file {path}"
        self._realtime = camera.realtime

    def _create(self) -> cv2.VideoCapture:
        # Not a stream camera's RTSP options, should one be opening meanwhile.
        with capture_options(STARTED_WITH):
            return cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)

    def _opened(self, capture: cv2.VideoCapture) -> None:
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.pace_fps = fps if self._realtime and 0 < fps < 1000 else None


class UsbSource(_OpenCVSource):
    def __init__(self, index: int, camera: CameraSettings) -> None:
        super().__init__()
        self.index = index
        self.description = f"USB camera /dev/video{index}"
        self._camera = camera

    def _create(self) -> cv2.VideoCapture:
        if not Path(f"/dev/video{self.index}").exists():
            raise SourceError(
                f"{self.description} does not exist (is the camera plugged in? "
                "`ls /dev/video*` lists the devices)"
            )
        capture = cv2.VideoCapture(self.index, cv2.CAP_V4L2)
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, self._camera.width_px),
            (cv2.CAP_PROP_FRAME_HEIGHT, self._camera.height_px),
            (cv2.CAP_PROP_FPS, self._camera.fps),
        ):
            if value is not None:
                capture.set(prop, value)
        return capture


class StreamSource(_OpenCVSource):
    def __init__(self, url: CameraUrl, camera: CameraSettings) -> None:
        super().__init__()
        self.url = url.for_ffmpeg
        self.description = f"stream {url.redacted}"
        # No stream analysis delay; the chosen transport (TCP survives lossy links, UDP has
        # less latency).
        self._options = f"rtsp_transport;{camera.rtsp_transport}|analyzeduration;0|probesize;32"
        self._timeout_ms = round(camera.stall_timeout_s * 1000)
        self._decode_threads = camera.decode_threads
        self._address = url.address

    def _create(self) -> cv2.VideoCapture:
        # Without the time-outs FFmpeg waits ~30 s on a hung camera.
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            self._timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            self._timeout_ms,
        ]
        if self._decode_threads:
            # A live stream comes at its own pace: decoding it on this thread hands each frame
            # over as soon as it is decoded. FFmpeg's frame threads hold frames back (with two
            # of them, one frame: 65 ms at 15 fps), for the same CPU (720p: 2.1 ms a frame
            # either way), with 3 more threads and 3.5 MB more per camera.
            params += [cv2.CAP_PROP_N_THREADS, self._decode_threads]
        with capture_options(self._options):
            return cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)

    def reachable(self) -> bool:
        """Something accepts TCP connections at the stream's host and port."""
        try:
            with socket.create_connection(self._address, timeout=PROBE_TIMEOUT_S):
                return True
        except OSError:
            return False
