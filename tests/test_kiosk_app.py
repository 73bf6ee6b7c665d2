"""The whole App on the demo camera: its maskless alarm goes through the pipeline into the
history with the picture it was decided on, the board holds it as an active alarm, an
acknowledgement ends it and is kept too, and /metrics counts what the history holds."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import cv2
import numpy as np
from prometheus_client import CollectorRegistry, generate_latest

from streamwatch.app.metrics import AppCollector
from streamwatch.app.runner import App
from streamwatch.config.model import CameraSettings, Settings
from streamwatch.config.serving import OverlaySettings, StatusSettings
from streamwatch.config.sinks import JsonLinesSinkSettings
from streamwatch.events.ack import AckOutcome, AckRequest, AckVia
from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event
from streamwatch.history import EventQuery, Picture

GUARD_S = 60.0  # the demo's first maskless comes within a few seconds


async def test_the_demos_alarm_is_kept_with_its_picture_and_acknowledged(
    tmp_path: Path, state_dir: Path
) -> None:
    settings = Settings(
        cameras=[CameraSettings(name="demo", source="demo")],
        sinks=[JsonLinesSinkSettings(kind="jsonl", path=str(tmp_path / "events.jsonl"))],
        overlay=OverlaySettings(web=False),
        status=StatusSettings(enabled=False),
    )
    stop = asyncio.Event()
    async with App(settings) as app, asyncio.TaskGroup() as tasks:
        tasks.create_task(app.run(stop))
        assert app.history is not None
        async with asyncio.timeout(GUARD_S), app.board.subscribe_events() as events:
            alert: Event = await anext(e async for e in events if e.kind is EventKind.FACE_MASKLESS)
            frame_shape = app.board.latest("demo").frame.image.shape  # type: ignore[union-attr]
            assert [a.alert for a in app.board.alarms("demo")][:1] == [alert]
            (result,) = await app.acknowledger.acknowledge(
                AckRequest(AckVia.API, alert_id=alert.id, by="test")
            )
            assert result.outcome is AckOutcome.ACKNOWLEDGED
            assert alert.id not in [a.alert.id for a in app.board.alarms("demo")]
            await app.dispatcher.wait_until(lambda: app.dispatcher.pending("history") == 0)
        kept = [json.loads(b) for b in await app.history.query(EventQuery(limit=1000))]
        frame = await app.history.picture(alert.id, Picture.FRAME)
        face = await app.history.picture(alert.id, Picture.FACE)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(AppCollector(app))
        metrics = generate_latest(registry).decode()
        stop.set()

    by_id = {document["id"]: document for document in kept}
    assert alert.id in by_id
    acks = [d for d in kept if d["type"] == "streamwatch.alert.acknowledged"]
    assert [d["data"]["alert_id"] for d in acks] == [alert.id]
    assert frame is not None and face is not None
    decoded = cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == frame_shape
    assert (state_dir / "history.db").is_file()  # under the state directory
    (held,) = [
        line for line in metrics.splitlines() if line.startswith("streamwatch_history_events ")
    ]
    assert float(held.split()[1]) >= len(kept)  # more may have come since the query
    assert 'streamwatch_history_dropped_total{reason="count"} 0.0' in metrics
    delivered = (tmp_path / "events.jsonl").read_text()
    assert '"streamwatch.alert.acknowledged"' in delivered  # every sink gets it
