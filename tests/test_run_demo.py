"""`streamwatch run` on the embedded default, as a user runs it: a subprocess, the demo scene,
events on stdout, the live view on HTTP, and a clean exit when --duration is over."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest

from .support.ports import free_port

CONFIG = Path(__file__).resolve().parents[1] / "config" / "streamwatch.toml"


async def _live_view_url(stderr: asyncio.StreamReader) -> str:
    # Off a terminal the log is JSON lines.
    while line := await stderr.readline():
        message = json.loads(line).get("message", "") if line.startswith(b"{") else ""
        if "live view at " in message:
            return str(message.split("live view at ", 1)[1].strip())
    raise AssertionError("streamwatch exited before starting the live view")


async def _read_mjpeg_frames(url: str, count: int) -> list[np.ndarray]:
    frames: list[np.ndarray] = []
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        reader = aiohttp.MultipartReader.from_response(response)
        while len(frames) < count:
            part = await reader.next()
            assert isinstance(part, aiohttp.BodyPartReader)
            assert part.headers["Content-Type"] == "image/jpeg"
            image = cv2.imdecode(np.frombuffer(await part.read(), np.uint8), cv2.IMREAD_COLOR)
            assert image is not None
            frames.append(image)
    return frames


@pytest.mark.slow
async def test_demo_prints_face_new_and_face_left_and_serves_the_live_view(
    tmp_path: Path,
) -> None:
    # The default config, on a free port so the test never collides with a running instance.
    config = tmp_path / "demo.toml"
    text = CONFIG.read_text().replace("web_port = 8080", f"web_port = {free_port()}")
    config.write_text(text.replace("port = 9108", f"port = {free_port()}"))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streamwatch",
        "run",
        "--config",
        str(config),
        "--duration",
        "30",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        async with asyncio.timeout(60):
            base_url = await _live_view_url(process.stderr)
            async with aiohttp.ClientSession() as session, session.get(base_url) as page:
                assert page.status == 200
                html = await page.text()
            assert "stream/demo.mjpg" in html
            frames = await _read_mjpeg_frames(base_url + "stream/demo.mjpg", 3)
            assert all(frame.shape[1] == 960 for frame in frames)

            events: list[dict[str, Any]] = []
            while not {"streamwatch.face.new", "streamwatch.face.left"} <= {
                e["type"] for e in events
            }:
                line = await process.stdout.readline()
                assert line, "stdout closed before face.new and face.left were printed"
                events.append(json.loads(line))
            # Drain stderr so the process never blocks on a full pipe, then wait for its exit.
            drain = asyncio.create_task(process.stderr.read())
            remaining = await process.stdout.read()
            assert await process.wait() == 0
            await drain
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    events += [json.loads(line) for line in remaining.decode().splitlines()]
    new = [e for e in events if e["type"] == "streamwatch.face.new"]
    left = [e for e in events if e["type"] == "streamwatch.face.left"]
    assert new[0]["specversion"] == "1.0"
    assert new[0]["source"] == "streamwatch://streamwatch/demo"
    # The visitor who left is the one who came: same track, a plausible stay at the kiosk.
    assert left[0]["subject"] == new[0]["subject"]
    assert 5 < left[0]["data"]["dwell_s"] < 15
