"""What may be an alarm, and the sound a kiosk plays for one: the checks of `[overlay]`'s keys."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Final

from streamwatch.events.crop import shows_a_face
from streamwatch.events.kind import EventKind

# What the kiosk page can play, by file suffix.
SOUND_TYPES: Final = MappingProxyType(
    {".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".wav": "audio/wav"}
)


def alarm_kinds(events: object) -> object:
    """Kinds (with or without "streamwatch.") that are about a face in the picture; anything
    else is left for pydantic to refuse."""
    if not isinstance(events, list | tuple):
        return events
    names = [e.removeprefix("streamwatch.") if isinstance(e, str) else e for e in events]
    faces = [kind.value for kind in EventKind if shows_a_face(kind)]
    wrong = [name for name in names if name not in faces]
    if wrong:
        raise ValueError(
            f"{wrong[0]!r} is not about a face in the picture; alarms can be: " + ", ".join(faces)
        )
    return tuple(EventKind(name) for name in names)


def sound_file(sound: str, base_dir: Path) -> str:
    """ "off", "tone", or the absolute path of an audio file (relative: to the config file)."""
    if sound in ("off", "tone"):
        return sound
    path = base_dir / sound
    if path.suffix.lower() not in SOUND_TYPES:
        raise ValueError(
            f'"off", "tone", or an audio file ({", ".join(SOUND_TYPES)}); got {sound!r}'
        )
    if not path.is_file():
        raise ValueError(f"no audio file at {path} (relative paths: to the config file)")
    return str(path.resolve())
