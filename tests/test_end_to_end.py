"""End to end on a real clip: file source → selection → budget → cloud client → emulator over
real HTTP → tracking → rules → a signed webhook to a real aiohttp receiver."""

from __future__ import annotations

import asyncio
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from streamwatch.analysis.emulator import serve_emulator
from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.app.daemon import run
from streamwatch.config import Settings

from .support.webhook_receiver import webhook_receiver

API_KEY = "test-key-not-secret"
WEBHOOK_SECRET = "whsec_" + "c3RyZWFtd2F0Y2gtdGVzdC1zZWNyZXQ="


async def test_real_clip_through_the_emulator_reaches_the_webhook(media_dir: Path) -> None:
    # A woman and a man side by side, both faces in view throughout, 55-85 px (media README).
    clip = media_dir / "videos" / "head_pose_2people.mp4"
    async with (
        LocalAnalyzer() as engine,
        serve_emulator(engine, api_key=API_KEY) as api_url,
        webhook_receiver() as receiver,
    ):
        settings = Settings.model_validate(
            {
                "node": "e2e",
                "cameras": [{"name": "corridor", "source": str(clip), "loop": False}],
                "analyzer": {"kind": "ailab", "url": api_url, "api_key": API_KEY},
                # The cloud path, whatever the load: an answer later than max_age_s would be
                # the device's (tests/test_fallback.py), and a loaded CI box can be that slow.
                "budget": {"max_age_s": 30},
                "sinks": [{"kind": "webhook", "url": receiver.url, "secret": WEBHOOK_SECRET}],
                "overlay": {"web": False},
                "status": {"port": 0},
            }
        )
        # Ends by itself when the clip does (a file camera without `loop`).
        await asyncio.wait_for(run(settings), timeout=60)

    received = receiver.received
    assert received, "the webhook received no event"
    for delivery in received:
        Webhook(WEBHOOK_SECRET).verify(delivery.body, delivery.headers)
    new = receiver.events_of_type("face.new")
    assert len(new) == 2, [e["data"]["face"]["box_px"] for e in new]
    assert {e["source"] for e in new} == {"streamwatch://e2e/corridor"}
    assert {e["data"]["analyzer"] for e in new} == {"ailab"}
    assert len({e["subject"] for e in new}) == 2
    # Every face came back in frame pixels of the 480x270 clip.
    for event in new:
        box = event["data"]["face"]["box_px"]
        assert 0 <= box["left"] < 480 and 0 <= box["top"] < 270 and 30 <= box["height"] <= 120
