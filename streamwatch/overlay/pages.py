"""The live view's HTML pages and static files (package data in overlay/static/).

Everything is read once when the app is built and served from memory: the files are small,
and a kiosk's SD card should not be read on every request. URLs in the pages are relative so
the live view also works behind a reverse proxy under a path prefix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from importlib import resources
from string import Template
from types import MappingProxyType
from urllib.parse import quote

_CONTENT_TYPES: Mapping[str, str] = MappingProxyType(
    {".css": "text/css", ".js": "text/javascript", ".html": "text/html"}
)
_TEMPLATES = ("index.html", "camera.html")


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str


def url_segment(camera: str) -> str:
    """`camera` as one URL path segment."""
    return quote(camera, safe="")


class Pages:
    def __init__(self) -> None:
        folder = resources.files("streamwatch.overlay").joinpath("static")
        files = {entry.name: entry.read_bytes() for entry in folder.iterdir() if entry.is_file()}
        missing = [name for name in (*_TEMPLATES, "live.js", "live.css") if name not in files]
        if missing:
            raise RuntimeError(
                f"streamwatch/overlay/static lacks {', '.join(missing)}: reinstall streamwatch"
            )
        self._index = Template(files["index.html"].decode("utf-8"))
        self._camera = Template(files["camera.html"].decode("utf-8"))
        self._static = MappingProxyType(
            {
                name: StaticFile(body, _CONTENT_TYPES[suffix])
                for name, body in files.items()
                if name not in _TEMPLATES and (suffix := _suffix(name)) in _CONTENT_TYPES
            }
        )

    def index(self, cameras: Sequence[str]) -> str:
        tiles = "\n".join(
            f'    <a class="tile" href="camera/{url_segment(name)}">'
            f'<img src="stream/{url_segment(name)}.mjpg" alt="live view of {escape(name)}">'
            f"<span>{escape(name)}</span></a>"
            for name in cameras
        )
        return self._index.substitute(camera_tiles=tiles)

    def camera(self, camera: str) -> str:
        return self._camera.substitute(camera=escape(camera), camera_path=url_segment(camera))

    def static(self, name: str) -> StaticFile | None:
        return self._static.get(name)


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""
