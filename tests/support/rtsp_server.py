"""A real RTSP server (GStreamer's, from Debian packages) on 127.0.0.1 for tests and benches.

Tests skip with the reason when the packages are missing; .ci/run installs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from .ports import free_port

SERVE_SCRIPT = Path(__file__).with_name("gst_rtsp_serve.py")
SYSTEM_PYTHON = "/usr/bin/python3"


def missing_rtsp_tools() -> str | None:
    """Why a real RTSP server cannot run here, or None when it can."""
    if shutil.which("ffmpeg") is None:
        return "ffmpeg is not installed (apt-get install ffmpeg)"
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0');"
            "from gi.repository import GstRtspServer",
        ],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return (
            "GStreamer's RTSP server is not installed "
            "(apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi …, as .ci/run does)"
        )
    return None


def make_h264_clip(path: Path, *, width: int, height: int, fps: int, seconds: float) -> Path:
    """A synthetic H.264 elementary stream (moving test pattern): no media needed."""
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={width}x{height}:rate={fps}",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-bf",
            "0",
            "-g",
            str(fps),
            "-pix_fmt",
            "yuv420p",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "h264",
            str(path),
        ],
        check=True,
    )
    return path


class RtspServer:
    """One server process; kill() and start() again on the same port simulate an outage."""

    def __init__(
        self,
        clip: Path,
        *,
        fps: int,
        port: int | None = None,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.clip = clip
        self.fps = fps
        self.port = port or free_port()
        self.credentials = (user, password) if user and password else None
        self._process: subprocess.Popen[str] | None = None

    def url(self, path: str = "cam", *, with_credentials: bool = True) -> str:
        userinfo = ""
        if self.credentials and with_credentials:
            userinfo = f"{self.credentials[0]}:{self.credentials[1]}@"
        return f"rtsp://{userinfo}127.0.0.1:{self.port}/{path}"

    def start(self) -> None:
        args = [SYSTEM_PYTHON, str(SERVE_SCRIPT), str(self.clip), str(self.port), str(self.fps)]
        if self.credentials:
            args += list(self.credentials)
        # The server's own environment, not the test's virtualenv.
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        self._process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # blocks until it listens (or dies)
        if line.strip() != "ready":
            self.kill()
            raise RuntimeError(f"the RTSP server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: the camera dies without a goodbye."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def pause(self) -> None:
        """SIGSTOP: the camera hangs, its connections open but silent."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def __enter__(self) -> RtspServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self.resume()
        self.kill()
