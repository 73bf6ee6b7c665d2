"""The live view's HTML pages and static files (package data in overlay/static/).

Everything is read once when the app is built and served from memory: the files are small,
and a kiosk's SD card should not be read on every request. URLs in the pages are relative so
the live view also works behind a reverse proxy under a path prefix. What the pages' scripts
need from the config (the language, the time format, the alarm kinds, the key, the sound)
goes in data- attributes: the pages' policy allows no inline script or style.

The kiosk page is the visitor's: its HTML names no event type and no track, and its script
shows only the message the state gives (overlay.live_state).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from importlib import resources
from string import Template
from types import MappingProxyType
from urllib.parse import quote

from streamwatch.config.serving import OverlaySettings
from streamwatch.events.model import EVENT_TYPE_PREFIX

_CONTENT_TYPES: Mapping[str, str] = MappingProxyType(
    {".css": "text/css", ".js": "text/javascript", ".html": "text/html"}
)
_TEMPLATES = ("index.html", "camera.html", "kiosk.html")
_STATIC = ("common.js", "live.js", "kiosk.js", "live.css")


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str


def url_segment(camera: str) -> str:
    """`camera` as one URL path segment."""
    return quote(camera, safe="")


class Pages:
    def __init__(self, cameras: Sequence[str], settings: OverlaySettings) -> None:
        self._cameras = tuple(cameras)
        self._settings = settings
        folder = resources.files("streamwatch.overlay").joinpath("static")
        files = {entry.name: entry.read_bytes() for entry in folder.iterdir() if entry.is_file()}
        missing = [name for name in (*_TEMPLATES, *_STATIC) if name not in files]
        if missing:
            raise RuntimeError(
                f"streamwatch/overlay/static lacks {', '.join(missing)}: reinstall streamwatch"
            )
        self._templates = {name: Template(files[name].decode("utf-8")) for name in _TEMPLATES}
        self._static = MappingProxyType(
            {
                name: StaticFile(body, _CONTENT_TYPES[suffix])
                for name, body in files.items()
                if name not in _TEMPLATES and (suffix := _suffix(name)) in _CONTENT_TYPES
            }
        )

    def index(self) -> str:
        """Every camera in one grid stream, links to each camera, and the event feed."""
        links = "\n".join(
            f'      <a href="camera/{url_segment(name)}">{escape(name)}</a>'
            for name in self._cameras
        )
        return self._templates["index.html"].substitute(
            camera_links=links, stream=_all_cameras_stream(self._cameras), **self._common()
        )

    def camera(self, camera: str, *, show_landmarks: bool) -> str:
        return self._templates["camera.html"].substitute(
            camera=escape(camera),
            camera_path=url_segment(camera),
            landmarks=int(show_landmarks),
            landmarks_checked="checked" if show_landmarks else "",
            **self._common(),
        )

    def kiosk(self, camera: str | None) -> str:
        """Full screen, nothing to click: one camera, or (None) the grid of all of them."""
        settings = self._settings
        sound = settings.alarm_sound if settings.alarm_sound in ("off", "tone") else "file"
        kiosk = {
            "welcome": escape(settings.messages.welcome),
            "ack_key": escape(settings.ack_key),
            "sound": sound,
            **self._common(),
        }
        if camera is None:
            return self._templates["kiosk.html"].substitute(
                title="all cameras",
                root=".",
                camera="",
                stream=_all_cameras_stream(self._cameras),
                **kiosk,
            )
        return self._templates["kiosk.html"].substitute(
            title=escape(camera),
            root="..",
            camera=escape(camera),
            stream=f"stream/{url_segment(camera)}.mjpg",
            **kiosk,
        )

    def _common(self) -> dict[str, str]:
        """What every page's script needs from the config."""
        alarm_types = " ".join(EVENT_TYPE_PREFIX + kind for kind in self._settings.alarm_events)
        return {
            "lang": escape(self._settings.messages.lang),
            "time_format": self._settings.time_format,
            "alarm_types": alarm_types,
        }

    def static(self, name: str) -> StaticFile | None:
        return self._static.get(name)


def _all_cameras_stream(cameras: Sequence[str]) -> str:
    # A grid of one camera is that camera's stream: the same URL shares its encoder.
    return f"stream/{url_segment(cameras[0])}.mjpg" if len(cameras) == 1 else "grid.mjpg"


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""
