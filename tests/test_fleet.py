"""Many boxes, one account: streamwatch Apps sharing one budget in a real Redis, one MQTT broker
and one webhook receiver.

Real parts: three Apps (each with its own budget client, ledger and state directory) playing a
clip of people signing in real time, the cloud client calling the emulator over HTTP, a
redis-server started, SIGKILLed and restarted here, mosquitto, an aiohttp webhook receiver.
On main every box budgeted alone: three boxes allowed 2 calls/s sent up to 6/s, and three
daily caps of N spent 3N.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import cv2
import pytest

from streamwatch.analysis.emulator import EmulatorStats, serve_emulator
from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.app.health import health
from streamwatch.app.runner import App
from streamwatch.budget import BackendMode
from streamwatch.budget import shared as shared_budget
from streamwatch.clock import MediaClock
from streamwatch.config import Settings

from .support.mosquitto import mosquitto
from .support.redis_server import RedisServer, redis_server
from .support.webhook_receiver import webhook_receiver

API_KEY = "test-key-not-secret"
FACES = "asl_5people_sequence.mp4"  # five people in turn, facing the camera
TIMEOUT_S = 60


def _box(n: int, clip: Path, api_url: str, tmp_path: Path, budget: dict[str, Any]) -> Settings:
    return Settings.model_validate(
        {
            "node": f"box{n}",
            "state_dir": str(_made(tmp_path / f"state{n}")),
            "cameras": [{"name": f"door{n}", "source": str(clip), "loop": True}],
            "analyzer": {"kind": "ailab", "url": api_url, "api_key": API_KEY, "retries": 0},
            "budget": budget,
            "sinks": [{"kind": "jsonl", "path": str(tmp_path / f"events{n}.jsonl")}],
            "overlay": {"web": False},
            "status": {"enabled": False},
        }
    )


def _made(folder: Path) -> Path:
    folder.mkdir()
    return folder


@asynccontextmanager
async def _fleet(settings: list[Settings]) -> AsyncIterator[list[App]]:
    """The Apps, running until the block ends; any of them ending early fails the test."""
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        # Each its own state directory (the environment's $STREAMWATCH_STATE_DIR is one).
        apps = [
            await stack.enter_async_context(App(s, state_dir=Path(s.state_dir))) for s in settings
        ]
        runs = [asyncio.create_task(app.run(stop)) for app in apps]
        try:
            yield apps
            assert not any(run.done() for run in runs), "a box stopped on its own"
        finally:
            stop.set()
            async with asyncio.timeout(TIMEOUT_S):
                await asyncio.gather(*runs)


async def _eventually(condition: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> None:
    """Until `condition` holds: for what the boxes do on their own time (faces walking in,
    reconnecting on their back-off) and announce to nobody."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def _day_total(server: RedisServer, account: str) -> dict[str, str]:
    client = server.client()
    try:
        keys = await client.keys(f"streamwatch:{{{account}}}:day:*")
        day = await client.hgetall(keys[0]) if keys else {}
        return {str(field): str(value) for field, value in day.items()}
    finally:
        await client.aclose()


async def test_three_boxes_keep_one_accounts_rate_and_its_daily_cap_exactly(
    media_dir: Path, tmp_path: Path
) -> None:
    clip = media_dir / "videos" / FACES
    stats = EmulatorStats()
    budget = {"max_calls": 2, "period_s": 1.0, "daily_max_calls": 10, "account": "bar"}
    async with (
        redis_server() as server,
        LocalAnalyzer() as engine,
        serve_emulator(engine, api_key=API_KEY, stats=stats) as api_url,
    ):
        boxes = [
            _box(n, clip, api_url, tmp_path, budget | {"redis_url": server.url}) for n in range(3)
        ]
        async with _fleet(boxes) as apps:
            await _eventually(lambda: stats.requests >= 10)
            # Faces stay in view: a box that overspent would call again within seconds.
            await asyncio.sleep(3)
            states = [app.budget.state for app in apps]
            reports = [health(app)["budget"]["shared"] for app in apps]
        day = await _day_total(server, "bar")
    assert stats.requests == 10, "the account's daily cap of 10, over three boxes"
    assert stats.busiest(1.0) <= 2, f"{stats.busiest(1.0)} requests within one second"
    assert day["total"] == "10"
    assert sum(int(day.get(f"box:box{n}", 0)) for n in range(3)) == 10
    assert sum(1 for n in range(3) if f"box:box{n}" in day) >= 2, "one box took every call"
    assert all(state.spent and state.calls_today == 10 for state in states)
    assert all(r["mode"] == "shared" and r["account"] == "bar" for r in reports)


async def test_redis_killed_mid_run_the_boxes_keep_their_share_and_the_day_is_whole_again(
    media_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Heartbeats and reconnects sooner than a production box's, to keep the test short.
    monkeypatch.setattr(shared_budget, "HEARTBEAT_S", 0.5)
    monkeypatch.setattr(shared_budget, "RECONNECT_MAX_S", 1.0)
    clip = media_dir / "videos" / FACES
    stats = EmulatorStats()
    budget = {"max_calls": 3, "period_s": 1.0, "daily_max_calls": 15, "local_share": 1 / 3}
    async with (
        redis_server() as server,
        LocalAnalyzer() as engine,
        serve_emulator(engine, api_key=API_KEY, stats=stats) as api_url,
    ):
        boxes = [
            _box(n, clip, api_url, tmp_path, budget | {"redis_url": server.url}) for n in range(3)
        ]
        async with _fleet(boxes) as apps:
            await _eventually(lambda: stats.requests >= 3)
            await server.kill()
            before = stats.requests
            killed_at = len(stats.arrivals_s)
            # Without Redis, each box may spend a third of what was left: at most 4 each.
            await _eventually(
                lambda: all(a.budget.health.mode is BackendMode.LOCAL_SHARE for a in apps)
            )
            await asyncio.sleep(6)  # long enough for three boxes at 1 call/s to overspend
            during = stats.requests - before
            outage = stats.arrivals_s[killed_at:]
            reports = [health(app) for app in apps]
            await server.start()  # without its data, as a Redis without persistence restarts
            await _eventually(lambda: all(a.budget.health.mode is BackendMode.SHARED for a in apps))
            await _eventually(
                lambda: all(a.budget.state.calls_today >= stats.requests for a in apps)
            )
        own = [app.budget.health.own_calls_today for app in apps]
        day = await _day_total(server, "default")
    assert before + during <= 15, "the boxes overspent the day while Redis was away"
    assert during >= 3, "the boxes stopped calling on their shares"
    assert max((sum(1 for u in outage if t <= u < t + 1.0) for t in outage), default=0) <= 3
    for report in reports:
        assert report["status"] == "degraded"  # still doing its job: 200
        budget_part = report["budget"]["shared"]
        assert budget_part["degraded"] and budget_part["mode"] == "local_share"
        assert budget_part["share"] == pytest.approx(1 / 3) and budget_part["outages"] == 1
    # Every call any box made is in the account's day again, though Redis lost everything.
    assert int(day["total"]) == stats.requests == sum(own)
    assert all(int(day[f"box:box{n}"]) == own[n] for n in range(3))


async def test_boxes_share_one_broker_and_one_receiver_without_collisions(
    media_dir: Path, tmp_path: Path
) -> None:
    """Two boxes whose nodes differ only by a character Home Assistant does not allow.

    On main both announced their camera as streamwatch_lobby_1/door_*: one device in Home
    Assistant, whose entities each box overwrote in turn."""
    clip = media_dir / "videos" / "head_pose_2people.mp4"
    fps = cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FPS)
    nodes = ["lobby.1", "lobby_1"]
    async with (
        mosquitto(tmp_path) as broker,
        webhook_receiver() as receiver,
        aiomqtt.Client(broker.host, broker.port, identifier="watcher") as watcher,
    ):
        await watcher.subscribe("#", qos=1)
        messages: list[aiomqtt.Message] = []

        async def record() -> None:
            async for message in watcher.messages:
                messages.append(message)

        recording = asyncio.create_task(record())
        settings = [
            Settings.model_validate(
                {
                    "node": node,
                    "cameras": [{"name": "door", "source": str(clip), "loop": False}],
                    "sinks": [
                        {"kind": "webhook", "url": receiver.url},
                        {"kind": "mqtt", "host": broker.host, "port": broker.port},
                    ],
                    "overlay": {"web": False},
                    "status": {"enabled": False},
                }
            )
            for node in nodes
        ]
        async with AsyncExitStack() as stack:
            apps = [
                await stack.enter_async_context(
                    App(s, media_clock=MediaClock(fps), state_dir=_made(tmp_path / s.node))
                )
                for s in settings
            ]
            async with asyncio.timeout(TIMEOUT_S):  # both play the clip to its end
                await asyncio.gather(*(app.run(asyncio.Event()) for app in apps))
        # Both boxes' sinks delivered everything and said goodbye (their retained "offline").
        recording.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recording

    by_topic: dict[str, list[str]] = {}
    for message in messages:
        by_topic.setdefault(message.topic.value, []).append(_text(message))
    config = {t: json.loads(p[-1]) for t, p in by_topic.items() if t.endswith("/config")}
    unique_ids = [entity["unique_id"] for entity in config.values()]
    assert len(config) == 6 and len(set(unique_ids)) == 6, sorted(config)
    devices = {entity["device"]["identifiers"][0] for entity in config.values()}
    assert len(devices) == 2
    for node in nodes:
        mine = [
            e for e in config.values() if e["availability_topic"] == f"streamwatch/{node}/status"
        ]
        assert len(mine) == 3 and all(
            e["state_topic"].startswith(f"streamwatch/{node}/") for e in mine
        )
    webhook_events = [r.event for r in receiver.received]
    mqtt_events = [json.loads(p) for t, ps in by_topic.items() if t.endswith("/events") for p in ps]
    for node in nodes:
        sent = [e for e in webhook_events if e["source"] == f"streamwatch://{node}/door"]
        published = by_topic.get(f"streamwatch/{node}/door/events", [])
        assert sent and len(published) == len(sent), node
    ids = [e["id"] for e in webhook_events]
    assert len(set(ids)) == len(ids), "two events with one id"
    assert sorted(ids) == sorted(e["id"] for e in mqtt_events)
    # Each box's will and goodbye are its own: neither knocked the other off the broker.
    assert [by_topic[f"streamwatch/{node}/status"][0] for node in nodes] == ["online", "online"]


def _text(message: aiomqtt.Message) -> str:
    payload = message.payload
    assert isinstance(payload, bytes | bytearray)
    return payload.decode()
