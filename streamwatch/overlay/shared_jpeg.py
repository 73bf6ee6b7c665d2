"""SharedJpeg: the latest drawn-and-encoded JPEG of one view, shared by all its viewers.

A view is one camera or a grid of several. Drawing and JPEG encoding are the costly part of
the live view. They run in a worker thread (`asyncio.to_thread`) so the event loop never
blocks, at most one at a time per view, and only while someone is watching. A JPEG younger
than `reuse_for_s` is handed to every viewer that has not seen it yet, so the number of
encodes per second stays near the stream rate no matter how many viewers there are or how
their clocks are out of phase. A view whose cameras send nothing new is still drawn again every
`redraw_after_s`, so its "stale" badge appears and its banner fades.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from streamwatch.overlay.board import SceneBoard, Snapshot


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    version: int  # the board's version of the view's cameras it shows
    jpeg: bytes
    rendered_monotonic_s: float  # when drawing started: the moment the picture describes


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"cv2.imencode could not encode a {image.shape} image as JPEG")
    return bytes(buffer)


class SharedJpeg:
    """The encoded picture of some cameras; `render` turns their snapshot into JPEG bytes."""

    def __init__(
        self,
        board: SceneBoard,
        cameras: Sequence[str],
        render: Callable[[Snapshot, float], bytes],
        *,
        reuse_for_s: float,
        redraw_after_s: float,
    ) -> None:
        board.snapshot(cameras)  # fails fast on an unknown camera
        self._board = board
        self._cameras = tuple(cameras)
        self._render = render  # (snapshot, now_monotonic_s) -> JPEG; called in a worker thread
        self._reuse_for_s = reuse_for_s
        self._redraw_after_s = redraw_after_s
        self._latest: EncodedFrame | None = None
        self._encoding: asyncio.Future[EncodedFrame] | None = None

    @property
    def cameras(self) -> tuple[str, ...]:
        return self._cameras

    async def next_jpeg(self, after: EncodedFrame | None) -> EncodedFrame:
        """A picture other than `after` (None: any), waiting for one if need be."""
        while True:
            latest = self._latest
            if (
                latest is not None
                and latest is not after
                and time.monotonic() - latest.rendered_monotonic_s < self._reuse_for_s
            ):
                return latest
            if self._encoding is None:
                snapshot = await self._next_snapshot(after)
                # Another viewer may have started an encode while this one waited.
                if self._encoding is None:
                    self._encoding = self._start_encoding(snapshot)
            # Shielded: a viewer that disconnects must not cancel the encode others await.
            encoded = await asyncio.shield(self._encoding)
            if encoded is not after:
                return encoded

    async def _next_snapshot(self, after: EncodedFrame | None) -> Snapshot:
        """A newer snapshot than `after` shows, or the same one once it is due a redraw."""
        if after is None:
            return await self._board.next_snapshot(self._cameras, None)
        redraw_in_s = after.rendered_monotonic_s + self._redraw_after_s - time.monotonic()
        try:
            async with asyncio.timeout(max(redraw_in_s, 0.0)):
                return await self._board.next_snapshot(self._cameras, after.version)
        except TimeoutError:
            return self._board.snapshot(self._cameras)

    def _start_encoding(self, snapshot: Snapshot) -> asyncio.Future[EncodedFrame]:
        encoding = asyncio.ensure_future(asyncio.to_thread(self._encode, snapshot))
        encoding.add_done_callback(self._encoded)
        return encoding

    def _encode(self, snapshot: Snapshot) -> EncodedFrame:
        now_monotonic_s = time.monotonic()
        jpeg = self._render(snapshot, now_monotonic_s)
        return EncodedFrame(snapshot.version, jpeg, now_monotonic_s)

    def _encoded(self, encoding: asyncio.Future[EncodedFrame]) -> None:
        self._encoding = None
        # A failed encode is reported to the viewers awaiting it; reading it here as well
        # keeps asyncio from logging "exception never retrieved" when they have all left.
        if not encoding.cancelled() and encoding.exception() is None:
            self._latest = encoding.result()
