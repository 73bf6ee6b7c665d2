"""SharedJpeg: the latest drawn-and-encoded JPEG of one camera, shared by all its viewers.

Drawing and JPEG encoding are the costly part of the live view. They run in a worker thread
(`asyncio.to_thread`) so the event loop never blocks, at most one at a time per camera, and
only while someone is watching. A JPEG younger than `reuse_for_s` is handed to every viewer
that has not seen it yet, so the number of encodes per second stays near the stream rate no
matter how many viewers there are or how their clocks are out of phase.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.scene import Scene


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    sequence: int  # frame.sequence of the scene it shows
    jpeg: bytes
    rendered_monotonic_s: float  # when drawing started: the moment the picture describes


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"cv2.imencode could not encode a {image.shape} image as JPEG")
    return bytes(buffer)


class SharedJpeg:
    """The encoded picture of one camera; `render` turns a scene into JPEG bytes."""

    def __init__(
        self,
        board: SceneBoard,
        camera: str,
        render: Callable[[Scene, float], bytes],
        *,
        reuse_for_s: float,
    ) -> None:
        if camera not in board.cameras:
            raise KeyError(f"unknown camera {camera!r}; the board has: {', '.join(board.cameras)}")
        self._board = board
        self._camera = camera
        self._render = render  # (scene, now_monotonic_s) -> JPEG; called in a worker thread
        self._reuse_for_s = reuse_for_s
        self._latest: EncodedFrame | None = None
        self._encoding: asyncio.Future[EncodedFrame] | None = None

    @property
    def camera(self) -> str:
        return self._camera

    async def next_jpeg(self, after_sequence: int | None) -> EncodedFrame:
        """A picture of a frame other than `after_sequence` (None: any), waiting if need be."""
        while True:
            latest = self._latest
            if (
                latest is not None
                and latest.sequence != after_sequence
                and time.monotonic() - latest.rendered_monotonic_s < self._reuse_for_s
            ):
                return latest
            if self._encoding is None:
                scene = await self._board.next_scene(self._camera, after_sequence)
                # Another viewer may have started an encode while this one waited.
                if self._encoding is None:
                    self._encoding = self._start_encoding(scene)
            # Shielded: a viewer that disconnects must not cancel the encode others await.
            encoded = await asyncio.shield(self._encoding)
            if encoded.sequence != after_sequence:
                return encoded

    def _start_encoding(self, scene: Scene) -> asyncio.Future[EncodedFrame]:
        encoding = asyncio.ensure_future(asyncio.to_thread(self._encode, scene))
        encoding.add_done_callback(self._encoded)
        return encoding

    def _encode(self, scene: Scene) -> EncodedFrame:
        now_monotonic_s = time.monotonic()
        jpeg = self._render(scene, now_monotonic_s)
        return EncodedFrame(scene.frame.sequence, jpeg, now_monotonic_s)

    def _encoded(self, encoding: asyncio.Future[EncodedFrame]) -> None:
        self._encoding = None
        # A failed encode is reported to the viewers awaiting it; reading it here as well
        # keeps asyncio from logging "exception never retrieved" when they have all left.
        if not encoding.cancelled() and encoding.exception() is None:
            self._latest = encoding.result()
