"""A cap on the live view's MJPEG viewers (overlay.max_viewers): the next one gets 503 with a
body that says why and what to change, and is served again once a viewer leaves. On main
before this work every viewer was served (200 that never read cost +36 MB)."""

from __future__ import annotations

import asyncio

import aiohttp

from streamwatch.config.serving import OverlaySettings
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.web import serve_live_view
from tests.support.scenes import make_scene

from .test_overlay_web import GUARD_S, STREAM_WIDTH_PX, read_mjpeg_part


async def test_the_viewer_past_max_viewers_gets_503_until_one_leaves() -> None:
    board = SceneBoard(["cam"])
    board.publish(make_scene())
    settings = OverlaySettings(
        web_port=0, stream_fps=30, stream_width_px=STREAM_WIDTH_PX, max_viewers=2
    )
    timeout = aiohttp.ClientTimeout(total=GUARD_S)
    async with (
        serve_live_view(board, settings) as server,
        aiohttp.ClientSession(timeout=timeout) as first_viewer,
        aiohttp.ClientSession(timeout=timeout) as others,
    ):
        grid = await first_viewer.get(server.url + "grid.mjpg")
        await read_mjpeg_part(grid.content)
        camera = await others.get(server.url + "stream/cam.mjpg")
        await read_mjpeg_part(camera.content)
        async with others.get(server.url + "stream/cam.mjpg") as refused:
            status, body = refused.status, await refused.text()
            retry_after = refused.headers.get("Retry-After")
        # Pages, snapshots and the feed are not streams: still served.
        async with others.get(server.url + "snapshot/cam.jpg") as snapshot:
            assert snapshot.status == 200
        grid.close()  # the first viewer leaves
        await first_viewer.close()
        # The server notices at its next write to the gone viewer (its next frame): ask
        # again until then, within the guard.
        async with asyncio.timeout(GUARD_S):
            while True:
                again = await others.get(server.url + "grid.mjpg")
                if again.status == 200:
                    break
                again.release()
                await asyncio.sleep(0.1)
        await read_mjpeg_part(again.content)
        again.close()
        camera.close()
    assert status == 503 and retry_after == "5"
    assert body.strip() == (
        "This live view already serves 2 streams, its most (overlay.max_viewers): close one, "
        "or raise overlay.max_viewers."
    )
