"""A power cut: `streamwatch run` is SIGKILLed while its webhook is down and events are pending;
started again with the receiver up, it delivers every event of the killed run."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from .support.ports import free_port
from .support.webhook_receiver import webhook_receiver

SECRET = "whsec_" + "c3RyZWFtd2F0Y2gtY3Jhc2gtdGVzdA=="
# The demo scene: a face comes in about 3 s after the start, and is maskless.
EVENTS_BEFORE_THE_KILL = 4


@asynccontextmanager
async def _streamwatch(config: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streamwatch", "run", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()


def _pending_ids(outbox: Path) -> set[str]:
    with sqlite3.connect(outbox) as db:
        return {json.loads(body)["id"] for (body,) in db.execute("SELECT body FROM events")}


@pytest.mark.slow
async def test_sigkill_with_events_pending_loses_none(tmp_path: Path, state_dir: Path) -> None:
    port = free_port()
    config = tmp_path / "crash.toml"
    config.write_text(
        'node = "crash"\n'
        '[[cameras]]\nname = "left"\nsource = "demo"\n'
        '[[cameras]]\nname = "right"\nsource = "demo"\n'
        # Standard output shows each event as soon as it is in the outbox.
        '[[sinks]]\nkind = "jsonl"\npath = "-"\n'
        f'[[sinks]]\nkind = "webhook"\nurl = "http://127.0.0.1:{port}/hook"\n'
        f'secret = "{SECRET}"\n'
        "[outbox]\nretry_initial_s = 0.1\nretry_max_s = 0.5\n"
        "[overlay]\nweb = false\n"
    )

    # The receiver is down: every event waits in the outbox when the power goes.
    async with _streamwatch(config) as first:
        assert first.stdout is not None
        printed: list[dict[str, Any]] = []
        async with asyncio.timeout(60):
            while len(printed) < EVENTS_BEFORE_THE_KILL:
                line = await first.stdout.readline()
                assert line, "streamwatch exited early"
                printed.append(json.loads(line))
        first.send_signal(signal.SIGKILL)
    pending = _pending_ids(state_dir / "outbox.db")
    assert {event["id"] for event in printed} <= pending

    async with webhook_receiver(port=port) as receiver, _streamwatch(config):
        await receiver.wait_until(
            lambda: pending <= {r.event["id"] for r in receiver.received}, timeout_s=60
        )
    for delivery in receiver.received:
        Webhook(SECRET).verify(delivery.body, delivery.headers)
    # In order per camera: the killed run's events first, as they were made.
    for camera in ("left", "right"):
        made = [e["id"] for e in printed if e["source"].endswith(f"/{camera}")]
        arrived = [r.event["id"] for r in receiver.received if r.event["id"] in made]
        assert list(dict.fromkeys(arrived)) == made
