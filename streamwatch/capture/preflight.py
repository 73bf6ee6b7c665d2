"""What `streamwatch check` can tell about the cameras' sources before anything runs.

The settings model stays pure (it never looks at the disk): a config naming a video file that
is not there is a valid config, and the running daemon treats it as a camera `failed` until
the file is there (capture/deferred.py). `check` is asked a different question — will this
config work as it stands? — so it also looks at each file camera's file: there, readable, and
a video FFmpeg can open. It neither connects to stream cameras nor opens USB devices: a
running streamwatch may hold them, and `check` must not depend on the network.
"""

from __future__ import annotations

import os
import pwd
import re
from pathlib import Path

import cv2

from streamwatch.capture.sources import FileSource, SourceError, open_source
from streamwatch.config.model import Settings

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,15}")


def source_problems(settings: Settings) -> list[str]:
    """One line per camera whose source cannot work now, named by its key."""
    problems = []
    for index, camera in enumerate(settings.cameras):
        key = f"cameras[{index}].source"
        try:
            source = open_source(camera)
        except SourceError:
            problems.append(f"{key}: {_not_a_source(camera.source)}")
            continue
        if isinstance(source, FileSource) and not _plays(source):
            problems.append(f"{key}: {_unplayable(source.path)}")
    return problems


def _plays(source: FileSource) -> bool:
    # OpenCV would also print a warning of its own about a file it cannot open: the problem
    # line says it better.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        source.open()
        return True
    except SourceError:
        return False
    finally:
        source.close()
        cv2.utils.logging.setLogLevel(level)


def _not_a_source(spec: str) -> str:
    kinds = 'a video file\'s path, "demo", "usb:N", "/dev/videoN" or an rtsp:// URL'
    scheme, separator, _ = spec.strip().partition("://")
    if separator:
        # Never the rest: a mistyped scheme's URL may carry a password.
        shown = scheme if _SCHEME.fullmatch(scheme) else "its scheme"
        return f"{shown}:// is not a stream streamwatch reads (give {kinds})"
    path = Path(spec.strip()).expanduser()
    if path.is_dir():
        return f"{path} is a directory, not a video file (give {kinds})"
    return f"no such file: {path} (give {kinds})"


def _unplayable(path: Path) -> str:
    if not os.access(path, os.R_OK):
        user = pwd.getpwuid(os.geteuid()).pw_name
        return f"cannot read {path}: permission denied for user {user}"
    return f"{path} is not a video FFmpeg can open"
