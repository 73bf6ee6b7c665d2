"""FFmpeg's capture options reach each camera's open, though OpenCV reads them from the
process environment (capture/ffmpeg_options.py)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import cv2
import pytest

from streamwatch.camera_url import parse_camera_url
from streamwatch.capture import SourceError
from streamwatch.capture.ffmpeg_options import VARIABLE
from streamwatch.capture.sources import StreamSource
from streamwatch.config import CameraSettings


class _OpenSpy:
    """Stands in for cv2.VideoCapture: notes the options each open finds in the environment.

    Each open takes its time, as a real one does: until every other camera started opening
    too, if nothing holds them back (then the options it reads may be another camera's), or
    half a second."""

    def __init__(self, urls: list[str]) -> None:
        self.entered = {url: threading.Event() for url in urls}
        self.seen: dict[str, str | None] = {}
        self.most_at_once = 0
        self._inside = 0
        self._lock = threading.Lock()

    def __call__(self, url: str, backend: int, params: list[int]) -> _OpenSpy:
        with self._lock:
            self._inside += 1
            self.most_at_once = max(self.most_at_once, self._inside)
        self.entered[url].set()
        for other in self.entered.values():
            other.wait(0.5)
        self.seen[url] = os.environ.get(VARIABLE)
        with self._lock:
            self._inside -= 1
        return self

    def isOpened(self) -> bool:
        return False

    def release(self) -> None:
        pass


def _open_concurrently(monkeypatch: pytest.MonkeyPatch, transports: dict[str, str]) -> _OpenSpy:
    spy = _OpenSpy([f"rtsp://{name}/x" for name in transports])
    monkeypatch.setattr(cv2, "VideoCapture", spy)
    cameras = [
        StreamSource(
            parse_camera_url(f"rtsp://{name}/x"),
            CameraSettings(name=name, source=f"rtsp://{name}/x", rtsp_transport=transport),
        )
        for name, transport in transports.items()
    ]
    with ThreadPoolExecutor(len(cameras)) as pool:
        for future in [pool.submit(camera.open) for camera in cameras]:
            with pytest.raises(SourceError):
                future.result()
    return spy


def test_cameras_with_different_transports_each_open_with_their_own_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = _open_concurrently(monkeypatch, {"a": "tcp", "b": "udp"})
    assert "rtsp_transport;tcp" in (spy.seen["rtsp://a/x"] or "")
    assert "rtsp_transport;udp" in (spy.seen["rtsp://b/x"] or "")
    assert spy.most_at_once == 1  # one waited for the other


def test_cameras_with_the_same_options_open_together(monkeypatch: pytest.MonkeyPatch) -> None:
    # A hung camera's open (up to stall_timeout_s) must not hold back the others' reconnects.
    spy = _open_concurrently(monkeypatch, {"a": "tcp", "b": "tcp"})
    assert spy.most_at_once == 2
    assert all("rtsp_transport;tcp" in (seen or "") for seen in spy.seen.values())
