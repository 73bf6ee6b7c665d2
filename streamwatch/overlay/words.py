"""A face in words, for its label on the operator's picture: "door-3 34y F glasses no mask"."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from streamwatch.analysis.model import Face, Gender, Glasses, Mask
from streamwatch.tracking.track import Track

_MASK_WORDS: Final[Mapping[Mask, str]] = MappingProxyType(
    {Mask.WORN: "mask", Mask.NONE: "no mask", Mask.INCORRECT: "mask incorrect"}
)
_GLASSES_WORDS: Final[Mapping[Glasses, str]] = MappingProxyType(
    {Glasses.NONE: "no glasses", Glasses.REGULAR: "glasses", Glasses.SUNGLASSES: "sunglasses"}
)
_GENDER_WORDS: Final[Mapping[Gender, str]] = MappingProxyType(
    {Gender.FEMALE: "F", Gender.MALE: "M"}
)


def track_label(track: Track) -> str:
    """The track id followed by every attribute the analyzer knows, e.g. "cam-3 34y M mask"."""
    return " ".join([track.track_id, *_face_words(track.face)])


def _face_words(face: Face) -> list[str]:
    words: list[str] = []
    if face.age is not None:
        words.append(f"{face.age}y")
    if face.gender is not None:
        words.append(_GENDER_WORDS[face.gender])
    if face.glasses is not None:
        words.append(_GLASSES_WORDS[face.glasses])
    if face.mask is not None:
        words.append(_MASK_WORDS[face.mask])
    return words
