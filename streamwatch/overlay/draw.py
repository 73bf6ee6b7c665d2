"""Drawing a Scene: pure functions from values to a new BGR image.

Nothing here keeps state or touches the scene: the pipeline's frames are shared read-only
between parts, so every function draws on a copy it made itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Final, Literal

import cv2
import numpy as np

from streamwatch.analysis.model import Face, Gender, Glasses, Mask
from streamwatch.events.model import Event
from streamwatch.overlay.scene import Scene
from streamwatch.tracking.track import Track

BGR = tuple[int, int, int]
Corner = Literal["top-left", "top-right", "bottom-left"]

MASK_COLOURS: Final[Mapping[Mask | None, BGR]] = MappingProxyType(
    {
        Mask.WORN: (0, 200, 0),  # green
        Mask.NONE: (0, 0, 230),  # red
        Mask.INCORRECT: (0, 150, 255),  # orange
        None: (170, 170, 170),  # grey: the analyzer could not tell
    }
)
LANDMARK_COLOUR: Final[BGR] = (255, 255, 0)  # cyan stands apart from every mask colour
STALE_COLOUR: Final[BGR] = (0, 0, 180)
PANEL_COLOUR: Final[BGR] = (0, 0, 0)
TEXT_COLOUR: Final[BGR] = (255, 255, 255)

_FONT: Final = cv2.FONT_HERSHEY_SIMPLEX
# Sizes are designed for a 640 px wide picture and scaled with the output width, so the
# overlay reads the same on a 320 px thumbnail and a 1920 px kiosk screen.
_DESIGN_WIDTH_PX: Final = 640.0
_PANEL_ALPHA: Final = 0.55

_MASK_WORDS: Final[Mapping[Mask, str]] = MappingProxyType(
    {Mask.WORN: "mask", Mask.NONE: "no mask", Mask.INCORRECT: "mask incorrect"}
)
_GLASSES_WORDS: Final[Mapping[Glasses, str]] = MappingProxyType(
    {Glasses.NONE: "no glasses", Glasses.REGULAR: "glasses", Glasses.SUNGLASSES: "sunglasses"}
)
_GENDER_WORDS: Final[Mapping[Gender, str]] = MappingProxyType(
    {Gender.FEMALE: "F", Gender.MALE: "M"}
)


def draw_scene(
    scene: Scene,
    *,
    now_monotonic_s: float,
    show_landmarks: bool = False,
    stale_after_s: float = 5.0,
    width_px: int | None = None,
    max_events: int = 5,
) -> np.ndarray:
    """A new BGR image of the scene's frame with its tracks, events and status drawn on it.

    `width_px` resizes before drawing (the height keeps the aspect ratio), which is cheaper
    than drawing at full size and keeps the text crisp; None keeps the frame's size.
    """
    source = scene.frame.image
    if width_px is None:
        image = source.copy()
        factor = 1.0
    else:
        image = resize_to_width(source, width_px)
        factor = image.shape[1] / source.shape[1]
    unit = _unit(image)
    for track in scene.tracks:
        _draw_track(image, track, factor=factor, unit=unit, show_landmarks=show_landmarks)
    _draw_events(image, scene.recent_events[::-1][:max_events], unit=unit)
    _draw_status(image, scene, unit=unit)
    analysis_age_s = _analysis_age_s(scene, now_monotonic_s)
    if analysis_age_s is not None and analysis_age_s > stale_after_s:
        _draw_stale_badge(image, analysis_age_s, unit=unit)
    return image


def resize_to_width(image: np.ndarray, width_px: int) -> np.ndarray:
    """A new image `width_px` wide with the same aspect ratio (always a copy)."""
    if width_px < 1:
        raise ValueError(f"width_px must be at least 1, got {width_px}")
    height_px, source_width_px = image.shape[:2]
    if source_width_px == width_px:
        return image.copy()
    new_height_px = max(1, round(height_px * width_px / source_width_px))
    # INTER_AREA averages when shrinking (no aliasing); it is blocky when enlarging.
    interpolation = cv2.INTER_AREA if width_px < source_width_px else cv2.INTER_LINEAR
    resized: np.ndarray = cv2.resize(image, (width_px, new_height_px), interpolation=interpolation)
    return resized


def track_label(track: Track) -> str:
    """The track id followed by every attribute the analyzer knows, e.g. "cam-3 34y M mask"."""
    return " ".join([track.track_id, *_face_words(track.face)])


def event_line(event: Event) -> str:
    """One line of the event banner: local time, kind and subject."""
    clock = event.time.astimezone().strftime("%H:%M:%S")
    return " ".join(part for part in (clock, event.kind, event.subject) if part)


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


def _analysis_age_s(scene: Scene, now_monotonic_s: float) -> float | None:
    if scene.last_analysis_monotonic_s is None:
        return None
    return now_monotonic_s - scene.last_analysis_monotonic_s


def _unit(image: np.ndarray) -> float:
    return max(float(image.shape[1]) / _DESIGN_WIDTH_PX, 0.8)


def _font_scale(unit: float) -> float:
    return 0.45 * unit


def _thickness_px(unit: float) -> int:
    return max(1, round(unit))


def _draw_track(
    image: np.ndarray, track: Track, *, factor: float, unit: float, show_landmarks: bool
) -> None:
    face = track.face.scaled(factor) if factor != 1.0 else track.face
    colour = MASK_COLOURS[face.mask]
    left, top, width, height = face.box_px.as_ints()
    cv2.rectangle(image, (left, top), (left + width, top + height), colour, max(2, round(2 * unit)))
    _draw_label(
        image, track_label(track), left=left, top=top, bottom=top + height, colour=colour, unit=unit
    )
    if show_landmarks:
        _draw_landmarks(image, face, unit=unit)


def _draw_label(
    image: np.ndarray, text: str, *, left: int, top: int, bottom: int, colour: BGR, unit: float
) -> None:
    scale, thickness = _font_scale(unit), _thickness_px(unit)
    (text_w, text_h), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    pad = max(2, round(3 * unit))
    label_h = text_h + baseline + 2 * pad
    # Above the box when it fits, else below it, so a face at the top edge keeps its label.
    label_top = top - label_h if top - label_h >= 0 else bottom
    label_left = min(max(left, 0), max(image.shape[1] - text_w - 2 * pad, 0))
    cv2.rectangle(
        image,
        (label_left, label_top),
        (label_left + text_w + 2 * pad, label_top + label_h),
        colour,
        cv2.FILLED,
    )
    cv2.putText(
        image,
        text,
        (label_left + pad, label_top + pad + text_h),
        _FONT,
        scale,
        _readable_on(colour),
        thickness,
        cv2.LINE_AA,
    )


def _readable_on(background: BGR) -> BGR:
    blue, green, red = background
    luma = 0.114 * blue + 0.587 * green + 0.299 * red
    return (0, 0, 0) if luma > 110 else (255, 255, 255)


def _draw_landmarks(image: np.ndarray, face: Face, *, unit: float) -> None:
    radius_px = max(1, round(1.5 * unit))
    for point in face.landmarks_px:
        cv2.circle(
            image,
            (round(point.x), round(point.y)),
            radius_px,
            LANDMARK_COLOUR,
            cv2.FILLED,
            cv2.LINE_AA,
        )
    for pupil in face.pupils_px or ():
        cv2.circle(
            image,
            (round(pupil.x), round(pupil.y)),
            max(radius_px, round(pupil.radius)),
            LANDMARK_COLOUR,
            _thickness_px(unit),
            cv2.LINE_AA,
        )


def _draw_events(image: np.ndarray, events: Sequence[Event], *, unit: float) -> None:
    if events:
        _text_panel(
            image, [event_line(event) for event in events], corner="top-left", unit=unit, scale=0.85
        )


def _draw_status(image: np.ndarray, scene: Scene, *, unit: float) -> None:
    text = f"{scene.frame.camera}  {scene.fps_in:.1f} fps"
    _text_panel(image, [text], corner="bottom-left", unit=unit)


def _draw_stale_badge(image: np.ndarray, age_s: float, *, unit: float) -> None:
    _text_panel(
        image,
        [f"STALE: analysis {age_s:.0f} s old"],
        corner="top-right",
        unit=unit,
        background=STALE_COLOUR,
        alpha=1.0,
    )


def _text_panel(
    image: np.ndarray,
    lines: Iterable[str],
    *,
    corner: Corner,
    unit: float,
    scale: float = 1.0,
    background: BGR = PANEL_COLOUR,
    alpha: float = _PANEL_ALPHA,
) -> None:
    """Lines of text on a (translucent) panel in one corner of the image."""
    font_scale, thickness = _font_scale(unit) * scale, _thickness_px(unit)
    lines = list(lines)
    sizes = [cv2.getTextSize(line, _FONT, font_scale, thickness) for line in lines]
    line_h = max(h + baseline for (_, h), baseline in sizes)
    pad = max(2, round(4 * unit))
    margin = max(2, round(6 * unit))
    image_h, image_w = image.shape[:2]
    panel_w = min(max(w for (w, _), _ in sizes) + 2 * pad, image_w)
    panel_h = min(line_h * len(lines) + 2 * pad, image_h)
    left = margin if corner.endswith("left") else image_w - margin - panel_w
    top = margin if corner.startswith("top") else image_h - margin - panel_h
    left, top = max(left, 0), max(top, 0)
    region = image[top : top + panel_h, left : left + panel_w]
    if alpha >= 1.0:
        region[:] = background
    else:
        # Translucent so faces under the panel stay visible; blending the small region only
        # keeps this cheap on a Raspberry-Pi-class CPU.
        fill = np.empty_like(region)
        fill[:] = background
        region[:] = cv2.addWeighted(fill, alpha, region, 1.0 - alpha, 0.0)
    for index, line in enumerate(lines):
        baseline_y = top + pad + line_h * index + sizes[index][0][1]
        cv2.putText(
            image,
            line,
            (left + pad, baseline_y),
            _FONT,
            font_scale,
            TEXT_COLOUR,
            thickness,
            cv2.LINE_AA,
        )
