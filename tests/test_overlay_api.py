"""The live view's API over real HTTP: the history, the alarms' pictures, acknowledging (to a
real webhook receiver, through the outbox), the cameras' state feed, and the token on every
new route."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest

from streamwatch.analysis.model import Box
from streamwatch.app.acknowledge import Acknowledger, emits_acknowledgements
from streamwatch.config.history import HistorySettings
from streamwatch.config.model import CameraSettings, RuleSettings, Settings
from streamwatch.config.serving import OverlaySettings
from streamwatch.config.sinks import WebhookSinkSettings
from streamwatch.delivery import WebhookSink
from streamwatch.events.ack import AckOutcome, AckRequest, AckVia
from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event
from streamwatch.overlay.web import serve_live_view
from tests.support.desk import Desk, desk
from tests.support.scenes import make_frame, make_scene
from tests.support.webhook_receiver import WebhookReceiver, webhook_receiver

GUARD_S = 15.0
TOKEN = "desk-token-0123456789abcdef"
FACE = {"box_px": {"left": 500, "top": 200, "width": 160, "height": 200}}


def alert(kind: str = "face.maskless", camera: str = "door", track: int = 1, **data: Any) -> Event:
    return Event.create(
        kind,
        node="test",
        camera=camera,
        subject=f"{camera}-{track}",
        data={"camera": camera, "face": FACE, "identity_id": f"id-{track}", **data},
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=GUARD_S)) as session:
        yield session


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as running:
        yield running


@pytest.fixture
async def guard(
    tmp_path: Path, receiver: WebhookReceiver, http: aiohttp.ClientSession
) -> AsyncIterator[Desk]:
    webhook = WebhookSink(WebhookSinkSettings(kind="webhook", url=receiver.url), http)
    overlay = OverlaySettings(web_port=0, alarm_hold_s=0.3)
    async with desk(tmp_path, cameras=("door", "hall"), sinks=[webhook], overlay=overlay) as d:
        yield d


async def get_events(http: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        events: list[dict[str, Any]] = (await response.json())["events"]
        return events


async def test_the_history_answers_newest_first_by_camera_type_and_time(
    guard: Desk, http: aiohttp.ClientSession
) -> None:
    events = [
        alert("face.new"),
        alert(camera="hall"),
        alert("face.left"),
        alert("face.new", "hall"),
    ]
    for event in events:
        await guard.emit(event)
    await guard.delivered()
    api = guard.server.url + "api/events"
    everything = await get_events(http, api)
    assert [e["id"] for e in everything] == [e.id for e in reversed(events)]
    assert everything[0]["specversion"] == "1.0"  # CloudEvents, as every sink gets them
    assert [e["id"] for e in await get_events(http, api + "?limit=1")] == [events[3].id]
    by_camera = await get_events(http, api + "?camera=door&type=face.new,face.left")
    assert [e["id"] for e in by_camera] == [events[2].id, events[0].id]
    since = events[3].to_cloudevent()["time"]
    assert {e["id"] for e in await get_events(http, f"{api}?since={since}")} >= {events[3].id}
    future = datetime(2100, 1, 1, tzinfo=UTC).isoformat()
    assert await get_events(http, api + "?since=" + future.replace("+", "%2B")) == []
    for wrong in ("limit=0", "limit=x", "camera=roof", "type=face.sad", "since=yesterday"):
        async with http.get(f"{api}?{wrong}") as response:
            assert response.status == 400, wrong


async def test_the_snapshot_is_a_jpeg_of_the_frames_size_and_the_face_its_crop(
    guard: Desk, http: aiohttp.ClientSession
) -> None:
    image = np.random.default_rng(5).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    maskless = alert()
    await guard.emit(maskless, image=image, faces=[Box(500, 200, 160, 200)])
    base = f"{guard.server.url}api/events/{maskless.id}/"
    async with http.get(base + "snapshot.jpg") as response:
        assert response.status == 200 and response.content_type == "image/jpeg"
        frame = cv2.imdecode(np.frombuffer(await response.read(), np.uint8), cv2.IMREAD_COLOR)
    assert frame is not None and frame.shape == image.shape
    async with http.get(base + "face.jpg") as response:
        face = cv2.imdecode(np.frombuffer(await response.read(), np.uint8), cv2.IMREAD_COLOR)
    assert face is not None and face.shape[0] > 200 and face.shape[1] > 160  # with a margin
    async with http.get(f"{guard.server.url}api/events/no-such-id/snapshot.jpg") as response:
        assert response.status == 404


async def test_acknowledging_delivers_an_event_to_the_webhook_and_ends_the_alarm_once(
    guard: Desk, http: aiohttp.ClientSession, receiver: WebhookReceiver
) -> None:
    guard.board.publish(make_scene(make_frame("door")))
    maskless = alert()
    await guard.emit(maskless)
    assert [a.alert for a in guard.board.alarms("door")] == [maskless]
    url = f"{guard.server.url}api/alerts/{maskless.id}/ack"
    async with http.post(url, json={"by": "desk 2"}) as response:
        assert response.status == 200
        answer = await response.json()
    assert answer["outcome"] == AckOutcome.ACKNOWLEDGED
    assert guard.board.alarms("door") == ()  # ended at once
    await receiver.wait_until(lambda: bool(receiver.events_of_type("alert.acknowledged")))
    (delivered,) = receiver.events_of_type("alert.acknowledged")
    assert delivered["id"] == answer["acknowledgement_id"]
    assert delivered["subject"] == "door-1"
    data = delivered["data"]
    assert data["alert_id"] == maskless.id and data["alert_type"] == "streamwatch.face.maskless"
    assert (data["via"], data["by"], data["address"]) == ("api", "desk 2", "127.0.0.1")
    # Twice (a double click, a second guard): the first acknowledgement, and no second event.
    async with http.post(url) as response:
        again = await response.json()
    assert (response.status, again["outcome"]) == (200, AckOutcome.ALREADY)
    assert again["acknowledgement_id"] == answer["acknowledgement_id"]
    await guard.delivered()
    assert len(receiver.events_of_type("alert.acknowledged")) == 1


async def test_what_cannot_be_acknowledged_says_why(
    guard: Desk, http: aiohttp.ClientSession
) -> None:
    new_face = alert("face.new")
    await guard.emit(new_face)
    await guard.delivered()
    ack = guard.server.url + "api/alerts/{}/ack"
    async with http.post(ack.format(new_face.id)) as response:
        assert response.status == 409  # not an alert
    async with http.post(ack.format("no-such-alert")) as response:
        assert response.status == 404
    maskless = alert()
    await guard.emit(maskless)
    # A page of another site cannot make this browser acknowledge (SameSite aside).
    headers = {"Origin": "http://evil.example"}
    async with http.post(ack.format(maskless.id), headers=headers) as response:
        assert response.status == 403
    assert guard.board.alarm(maskless.id) is not None


async def test_an_alarm_ended_by_time_is_acknowledged_from_the_history_once_across_restarts(
    guard: Desk,
) -> None:
    maskless = alert()
    await guard.emit(maskless)
    await guard.emit(alert("face.left"))  # the face left: the hold (0.3 s) ends it
    await guard.delivered()
    async with asyncio.timeout(GUARD_S):
        while guard.board.alarms("door"):
            await guard.board.alarms_change()
    request = AckRequest(AckVia.MQTT, alert_id=maskless.id, camera="door")
    (first,) = await guard.acknowledger.acknowledge(request)
    assert first.outcome is AckOutcome.ACKNOWLEDGED
    await guard.delivered()
    # A restarted daemon remembers nothing but its history: that is enough.
    restarted = Acknowledger(
        node="test", board=guard.board, dispatcher=guard.dispatcher, history=guard.history
    )
    (second,) = await restarted.acknowledge(request)
    assert (second.outcome, second.acknowledgement_id) == (
        AckOutcome.ALREADY,
        first.acknowledgement_id,
    )
    wrong_camera = AckRequest(AckVia.MQTT, alert_id=maskless.id, camera="hall")
    assert [r.outcome for r in await restarted.acknowledge(wrong_camera)] == [AckOutcome.UNKNOWN]


async def read_states(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    async for line in response.content:
        if line.startswith(b"data: "):
            yield json.loads(line[len(b"data: ") :])


async def test_the_state_feed_tells_the_kiosk_of_an_alarm_and_of_its_end(
    guard: Desk, http: aiohttp.ClientSession
) -> None:
    guard.board.publish(make_scene(make_frame("door")))

    def visitor(state: dict[str, Any]) -> tuple[str, str]:
        (door,) = [c for c in state["cameras"] if c["camera"] == "door"]
        return door["visitor"]["state"], door["visitor"]["message"]

    async with asyncio.timeout(GUARD_S), http.get(guard.server.url + "state") as response:
        assert response.content_type == "text/event-stream"
        states = read_states(response)
        assert visitor(await anext(states)) == ("idle", "Welcome")
        maskless = alert()
        await guard.emit(maskless)
        state = await anext(states)
        assert visitor(state) == ("maskless", "Please put on your mask")
        (door,) = [c for c in state["cameras"] if c["camera"] == "door"]
        assert [a["alert_id"] for a in door["alarms"]] == [maskless.id]
        assert door["picture"]["level"] in ("ok", "failing")  # a test frame: maybe old
        await guard.emit(alert("face.left"))
        while visitor(state := await anext(states))[0] != "idle":
            (door,) = [c for c in state["cameras"] if c["camera"] == "door"]
            assert door["alarms"][0]["face_left"]  # still on until the hold is over
    async with http.get(guard.server.url + "api/state") as response:
        assert visitor(await response.json()) == ("idle", "Welcome")


async def test_the_history_off_is_a_404_that_says_so(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with desk(tmp_path) as d, serve_live_view(d.board, OverlaySettings(web_port=0)) as bare:
        async with http.get(bare.url + "api/events") as response:
            assert response.status == 404 and "history is off" in await response.text()
        async with http.post(bare.url + "api/alerts/x/ack") as response:
            assert response.status == 503  # no acknowledger in this view


async def test_every_new_route_answers_401_without_the_token(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    overlay = OverlaySettings(web_port=0, token=TOKEN)
    routes = [
        ("GET", "api/events"),
        ("GET", "api/events/x/snapshot.jpg"),
        ("GET", "api/events/x/face.jpg"),
        ("POST", "api/alerts/x/ack"),
        ("GET", "api/state"),
        ("GET", "state"),
        ("GET", "sound"),
        ("GET", "static/kiosk.js"),
    ]
    async with desk(tmp_path, overlay=overlay, history=HistorySettings()) as guarded:
        for method, route in routes:
            async with http.request(method, guarded.server.url + route) as response:
                assert response.status == 401, route
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(guarded.server.url + "api/events", headers=bearer) as response:
            assert response.status == 200


async def test_the_configured_sound_is_served_to_the_kiosk(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    sound = tmp_path / "chime.wav"
    sound.write_bytes(b"RIFF....WAVEfmt ")
    overlay = OverlaySettings.model_validate(
        {"web_port": 0, "alarm_sound": "chime.wav"}, context={"base_dir": tmp_path}
    )
    async with desk(tmp_path, overlay=overlay) as d, http.get(d.server.url + "sound") as response:
        assert response.status == 200 and response.content_type == "audio/wav"
        assert await response.read() == sound.read_bytes()
        async with http.get(d.server.url + "kiosk/door") as page:
            assert 'data-sound="file"' in await page.text()


async def test_a_camera_whose_rules_leave_acknowledgements_out_ends_the_alarm_silently(
    guard: Desk, receiver: WebhookReceiver
) -> None:
    rules = RuleSettings(
        events=tuple(k for k in EventKind if k is not EventKind.ALERT_ACKNOWLEDGED)
    )
    settings = Settings(cameras=[CameraSettings(name="door", source="demo", rules=rules)])
    assert not emits_acknowledgements(settings, "door")
    assert emits_acknowledgements(
        Settings(cameras=[CameraSettings(name="door", source="demo")]), "door"
    )
    silent = Acknowledger(
        node="test",
        board=guard.board,
        dispatcher=guard.dispatcher,
        history=guard.history,
        emits=lambda camera: emits_acknowledgements(settings, camera),
    )
    maskless = alert()
    await guard.emit(maskless)
    (result,) = await silent.acknowledge(AckRequest(AckVia.API, alert_id=maskless.id))
    assert result.outcome is AckOutcome.ACKNOWLEDGED and guard.board.alarms("door") == ()
    await guard.delivered()
    assert receiver.events_of_type("face.maskless") and not receiver.events_of_type(
        "alert.acknowledged"
    )
