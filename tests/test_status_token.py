"""The status server under the live view's rule: with `status.token`, /healthz and /metrics
answer 401 without it, and serve it as a Bearer header (what Prometheus sends) or ?token=.
On main before this work there was no status.token: anyone who reached the port read them."""

from __future__ import annotations

import aiohttp

from streamwatch.app.runner import App
from streamwatch.config import Settings

from .support.ports import free_port

TOKEN = "status-token-0123456789"


async def test_the_status_token_is_needed_by_every_request() -> None:
    port = free_port()
    settings = Settings.model_validate(
        {
            "cameras": [{"name": "door", "source": "demo"}],
            "sinks": [],
            "overlay": {"web": False},
            "status": {"port": port, "token": TOKEN},
        }
    )
    base = f"http://127.0.0.1:{port}/"
    answers: dict[str, int] = {}
    async with App(settings), aiohttp.ClientSession() as http:
        for path in ("healthz", "metrics", "healthz?token=nope"):
            async with http.get(base + path) as response:
                answers[path] = response.status
                refusal = await response.text()
                assert TOKEN not in refusal
        async with http.get(base + "healthz", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            by_header = r.status, await r.json()
        async with http.get(base + f"metrics?token={TOKEN}") as response:
            by_query = response.status, await response.text()
    assert answers == {"healthz": 401, "metrics": 401, "healthz?token=nope": 401}
    assert "status.token" in refusal
    assert by_header[0] in (200, 503) and "door" in by_header[1]["cameras"]
    assert by_query[0] == 200 and "streamwatch_camera_frames_total" in by_query[1]
