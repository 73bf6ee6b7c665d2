"""Several cameras in one picture: the grid of the native window and of the web's grid stream.

One composed picture instead of one stream per camera also keeps a browser's grid page within
its six connections per host, however many cameras there are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np

from streamwatch.overlay.draw import DrawOptions, draw_scene, resize_to_width
from streamwatch.overlay.scene import Scene
from streamwatch.overlay.style import FONT, TEXT_COLOUR, font_scale, thickness_px, unit_for

# Tiles are 16:9, the shape of nearly every camera; other shapes are letterboxed.
TILE_ASPECT: Final = 16 / 9
_GAP_PX: Final = 2
_EMPTY_COLOUR: Final = (24, 24, 24)


@dataclass(frozen=True, slots=True)
class Tile:
    left: int
    top: int
    width: int
    height: int


def grid_tiles(count: int, width_px: int) -> tuple[Tile, ...]:
    """Where each of `count` pictures goes in a grid `width_px` wide, row by row."""
    if count < 1:
        raise ValueError(f"a grid needs at least one picture, got {count}")
    columns = math.ceil(math.sqrt(count))
    tile_w = (width_px - _GAP_PX * (columns - 1)) // columns
    tile_h = round(tile_w / TILE_ASPECT)
    return tuple(
        Tile(
            (index % columns) * (tile_w + _GAP_PX),
            (index // columns) * (tile_h + _GAP_PX),
            tile_w,
            tile_h,
        )
        for index in range(count)
    )


def render_view(
    cameras: Sequence[str],
    scenes: Sequence[Scene | None],
    *,
    now_monotonic_s: float,
    options: DrawOptions,
    width_px: int,
) -> np.ndarray:
    """One camera's drawn scene, or every camera's in a grid `width_px` wide."""
    if len(cameras) == 1 and scenes[0] is not None:
        return draw_scene(
            scenes[0], now_monotonic_s=now_monotonic_s, options=options, width_px=width_px
        )
    tiles = grid_tiles(len(cameras), width_px)
    height_px = max(tile.top + tile.height for tile in tiles)
    canvas = np.zeros((height_px, width_px, 3), dtype=np.uint8)
    for camera, scene, tile in zip(cameras, scenes, tiles, strict=True):
        area = canvas[tile.top : tile.top + tile.height, tile.left : tile.left + tile.width]
        if scene is None:
            _waiting(area, camera)
            continue
        drawn = draw_scene(
            scene, now_monotonic_s=now_monotonic_s, options=options, width_px=tile.width
        )
        _letterbox(area, drawn)
    return canvas


def _letterbox(area: np.ndarray, picture: np.ndarray) -> None:
    """Copy `picture` (already `area`'s width) into `area`, shrunk to fit and centred."""
    area_h, area_w = area.shape[:2]
    if picture.shape[0] > area_h:
        fit_w = max(1, round(picture.shape[1] * area_h / picture.shape[0]))
        picture = resize_to_width(picture, fit_w)
    top = (area_h - picture.shape[0]) // 2
    left = (area_w - picture.shape[1]) // 2
    area[top : top + picture.shape[0], left : left + picture.shape[1]] = picture


def _waiting(area: np.ndarray, camera: str) -> None:
    area[:] = _EMPTY_COLOUR
    unit = unit_for(area.shape[1])
    cv2.putText(
        area,
        f"{camera}: waiting for a picture",
        (round(10 * unit), area.shape[0] // 2),
        FONT,
        font_scale(unit),
        TEXT_COLOUR,
        thickness_px(unit),
        cv2.LINE_AA,
    )
