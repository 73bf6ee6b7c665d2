"""A looping file camera plays on through its loops: the restart at the end of the clip is not
a change of state, so /healthz does not flap. On main before this work each loop passed
through `connecting` (two state changes per loop, /healthz 503 for a moment)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from streamwatch.capture import CameraReader, CameraState, open_source
from streamwatch.capture.health import camera_health
from streamwatch.config import CameraSettings

from .support.clips import noise_clip

CLIP_FRAMES = 10


async def test_a_looping_file_stays_streaming_through_its_loops(tmp_path: Path) -> None:
    clip = noise_clip(tmp_path / "loop.avi", frames=CLIP_FRAMES, fps=100)
    camera = CameraSettings(name="loop", source=str(clip), loop=True, stall_timeout_s=2.0)
    unhealthy: list[str] = []
    async with CameraReader(camera, open_source(camera)) as reader:
        version = reader.state_version
        async with asyncio.timeout(10):
            while reader.state is not CameraState.STREAMING:
                version = await reader.state_change(version)
        assert reader.latest is not None
        frame = await reader.latest.watch()
        async with asyncio.timeout(20):
            # Five loops, each frame looked at as /healthz would.
            while frame.sequence < 5 * CLIP_FRAMES:
                frame = await reader.latest.watch(frame.sequence)
                health = camera_health(reader.stats, time.monotonic(), camera.stall_timeout_s)
                if not health.healthy:
                    unhealthy.append(f"{health.state}: {health.reason}")
        changes = reader.state_version - version
        state = reader.state
    assert state is CameraState.STREAMING
    assert changes == 0  # not a single change of state through five loops
    assert unhealthy == []
