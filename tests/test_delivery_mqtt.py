"""The MQTT sink against a real mosquitto on 127.0.0.1: events at QoS 1 on the documented
topics, retained per-camera state, Home Assistant discovery, a broker restart, the last will."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt

from streamwatch.config import MqttSinkSettings
from streamwatch.delivery.homeassistant import discovery_id
from streamwatch.delivery.mqtt import MqttSink
from streamwatch.events import Event
from streamwatch.events.ack import AckRequest

from .support.desk import desk
from .support.dispatching import dispatching
from .support.mosquitto import Broker, mosquitto

NODE = "lobby.1"
CAMERAS = ["door", "yard"]
# <discovery_prefix>/<component>/<node_id>/<object_id>/config, ids as Home Assistant allows.
DISCOVERY_TOPIC = re.compile(
    r"^homeassistant/(sensor|binary_sensor)/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/config$"
)


def _event(kind: str, camera: str, track: int = 1) -> Event:
    return Event.create(kind, node=NODE, camera=camera, subject=f"{camera}-{track}", data={})


class Inbox:
    """Every message a client receives, recorded as it arrives."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[aiomqtt.Message] = []
        self._arrived = asyncio.Condition()

    async def record(self) -> None:
        async for message in self.client.messages:
            async with self._arrived:
                self.messages.append(message)
                self._arrived.notify_all()

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(condition)

    def payloads(self, topic: str) -> list[str]:
        return [_text(m) for m in self.messages if m.topic.value == topic]

    def latest(self, topic: str) -> str | None:
        payloads = self.payloads(topic)
        return payloads[-1] if payloads else None

    def event_ids(self) -> list[str]:
        return [
            json.loads(_text(m))["id"] for m in self.messages if m.topic.value.endswith("/events")
        ]


@asynccontextmanager
async def _watching(broker: Broker, *topics: str, **client: Any) -> AsyncIterator[Inbox]:
    async with aiomqtt.Client(broker.host, broker.port, **client) as watcher:
        for topic in topics:
            await watcher.subscribe(topic, qos=1)
        inbox = Inbox(watcher)
        recorder = asyncio.create_task(inbox.record())
        try:
            yield inbox
        finally:
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder


def _sink(broker: Broker) -> MqttSink:
    settings = MqttSinkSettings(kind="mqtt", host=broker.host, port=broker.port, timeout_s=1.0)
    return MqttSink(
        settings, node=NODE, cameras=CAMERAS, reconnect_initial_s=0.05, reconnect_max_s=0.2
    )


async def test_events_state_and_discovery_on_the_documented_topics(tmp_path: Path) -> None:
    async with (
        mosquitto(tmp_path) as broker,
        _watching(broker, "streamwatch/#", "homeassistant/#") as inbox,
    ):
        discovery: dict[str, dict[str, Any]] = {}
        async with dispatching(tmp_path / "outbox.db", [_sink(broker)]) as dispatcher:
            # Before any event: the node is online, and Home Assistant learns of both cameras.
            await inbox.wait_until(
                lambda: (
                    len([m for m in inbox.messages if "/config" in m.topic.value]) == 6
                    and inbox.latest("streamwatch/lobby.1/status") == "online"
                )
            )
            for message in inbox.messages:
                if message.topic.value.startswith("homeassistant/"):
                    discovery[message.topic.value] = json.loads(_text(message))
            events = [
                _event("face.new", "door"),
                _event("face.maskless", "door"),
                _event("camera.offline", "yard"),
                _event("face.left", "door"),
            ]
            for event in events:
                await dispatcher.submit(event)
            # face.left is the last event: its state follows its publication.
            await inbox.wait_until(
                lambda: len(inbox.payloads("streamwatch/lobby.1/door/maskless")) == 4
            )
            assert inbox.payloads("streamwatch/lobby.1/door/faces") == ["0", "1", "1", "0"]
            assert inbox.payloads("streamwatch/lobby.1/door/maskless") == ["0", "0", "1", "0"]
        await inbox.wait_until(lambda: inbox.latest("streamwatch/lobby.1/status") == "offline")

    assert inbox.event_ids() == [event.id for event in events]
    door_events = [m for m in inbox.messages if m.topic.value == "streamwatch/lobby.1/door/events"]
    assert len(door_events) == 3 and all(m.qos == 1 for m in door_events)
    assert json.loads(_text(door_events[0]))["type"] == "streamwatch.face.new"
    assert inbox.latest("streamwatch/lobby.1/yard/status") == "offline"
    _check_discovery(discovery)


def _check_discovery(discovery: dict[str, dict[str, Any]]) -> None:
    assert sorted(discovery) == sorted(
        f"homeassistant/{component}/streamwatch_{discovery_id(NODE)}/{camera}_{what}/config"
        for camera in CAMERAS
        for component, what in (
            ("sensor", "faces"),
            ("sensor", "maskless"),
            ("binary_sensor", "online"),
        )
    )
    assert all(DISCOVERY_TOPIC.match(topic) for topic in discovery)
    unique_ids = [payload["unique_id"] for payload in discovery.values()]
    assert len(set(unique_ids)) == len(unique_ids)
    for topic, payload in discovery.items():
        camera = topic.split("/")[3].rsplit("_", 1)[0]
        assert payload["name"] and payload["device"]["identifiers"]
        assert payload["availability_topic"] == "streamwatch/lobby.1/status"
        assert (payload["payload_available"], payload["payload_not_available"]) == (
            "online",
            "offline",
        )
        assert payload["state_topic"].startswith(f"streamwatch/lobby.1/{camera}/")
        if "/binary_sensor/" in topic:
            assert payload["device_class"] == "connectivity"
            assert (payload["payload_on"], payload["payload_off"]) == ("online", "offline")
        else:
            assert payload["state_class"] == "measurement"


async def test_retained_state_is_what_a_late_subscriber_sees(tmp_path: Path) -> None:
    async with mosquitto(tmp_path) as broker:
        sink = _sink(broker)
        async with dispatching(tmp_path / "outbox.db", [sink]) as dispatcher:
            await dispatcher.submit(_event("face.new", "door", 1))
            await dispatcher.submit(_event("face.maskless", "door", 2))
            await dispatcher.submit(_event("camera.offline", "yard"))
            await dispatcher.wait_until(lambda: dispatcher.counters[sink.name].delivered == 3)
            async with _watching(broker, "streamwatch/lobby.1/+/+") as late:
                await late.wait_until(lambda: len(late.messages) == 6)
    assert all(message.retain for message in late.messages)
    assert {m.topic.value: _text(m) for m in late.messages} == {
        "streamwatch/lobby.1/door/status": "online",
        "streamwatch/lobby.1/door/faces": "2",
        "streamwatch/lobby.1/door/maskless": "1",
        "streamwatch/lobby.1/yard/status": "offline",
        "streamwatch/lobby.1/yard/faces": "0",
        "streamwatch/lobby.1/yard/maskless": "0",
    }


async def test_a_returning_face_counts_as_present_until_it_leaves(tmp_path: Path) -> None:
    # Someone seen before comes back (face.returned, not face.new): they are in view too.
    faces = "streamwatch/lobby.1/door/faces"
    async with (
        mosquitto(tmp_path) as broker,
        _watching(broker, faces) as inbox,
        dispatching(tmp_path / "outbox.db", [_sink(broker)]) as dispatcher,
    ):
        await inbox.wait_until(lambda: inbox.payloads(faces) == ["0"])  # on connecting
        for kind, track in (("face.returned", 2), ("face.new", 3), ("face.left", 2)):
            await dispatcher.submit(_event(kind, "door", track))
        await inbox.wait_until(lambda: len(inbox.payloads(faces)) == 4)
    assert inbox.payloads(faces) == ["0", "1", "2", "1"]


async def test_after_a_broker_restart_the_sink_reconnects_and_delivers_what_was_pending(
    tmp_path: Path,
) -> None:
    session = {"identifier": "watcher", "clean_session": False}
    async with mosquitto(tmp_path) as broker:
        # A persistent subscriber: the broker keeps its QoS 1 messages while it is away.
        async with _watching(broker, "streamwatch/+/+/events", **session):
            pass
        sink = _sink(broker)
        async with dispatching(tmp_path / "outbox.db", [sink]) as dispatcher:
            counters = dispatcher.counters[sink.name]
            events = [_event("face.new", "door", n) for n in range(5)]
            await dispatcher.submit(events[0])
            await dispatcher.wait_until(lambda: counters.delivered == 1)

            await broker.stop()
            for event in events[1:]:
                await dispatcher.submit(event)
            await dispatcher.wait_until(lambda: counters.retried >= 2)
            assert dispatcher.pending(sink.name) == 4

            await broker.start()
            async with asyncio.timeout(20):
                await dispatcher.wait_until(lambda: counters.delivered == len(events))
        async with _watching(broker, **session) as inbox:
            await inbox.wait_until(lambda: set(inbox.event_ids()) == {e.id for e in events})
    # At least once, in order (a retried publish may come twice).
    assert list(dict.fromkeys(inbox.event_ids())) == [event.id for event in events]


async def test_a_killed_streamwatch_is_announced_offline_by_its_last_will(tmp_path: Path) -> None:
    async with mosquitto(tmp_path) as broker, _watching(broker, "streamwatch/+/status") as inbox:
        config = tmp_path / "mqtt.toml"
        config.write_text(
            f'node = "{NODE}"\n'
            '[[cameras]]\nname = "door"\nsource = "demo"\n'
            f'[[sinks]]\nkind = "mqtt"\nhost = "{broker.host}"\nport = {broker.port}\n'
            "[overlay]\nweb = false\n"
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "streamwatch", "run", "--config", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await inbox.wait_until(
                lambda: inbox.latest("streamwatch/lobby.1/status") == "online", 60
            )
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
        await inbox.wait_until(lambda: inbox.latest("streamwatch/lobby.1/status") == "offline")
    assert inbox.payloads("streamwatch/lobby.1/status")[-2:] == ["online", "offline"]


def _text(message: aiomqtt.Message) -> str:
    payload = message.payload
    return payload.decode() if isinstance(payload, bytes | bytearray) else str(payload)


async def test_an_ack_on_the_cameras_topic_acknowledges_its_alert(tmp_path: Path) -> None:
    acks: asyncio.Queue[AckRequest] = asyncio.Queue()
    settings = MqttSinkSettings(kind="mqtt", host="127.0.0.1", port=1, timeout_s=1.0)
    async with mosquitto(tmp_path) as broker, _watching(broker, "streamwatch/#") as inbox:
        sink = MqttSink(
            settings.model_copy(update={"port": broker.port}),
            node="test",  # the desk's node
            cameras=CAMERAS,
            reconnect_initial_s=0.05,
            acks=acks,
        )
        async with desk(tmp_path, cameras=CAMERAS, sinks=[sink], acks=acks) as guard:
            serving = asyncio.create_task(guard.acknowledger.serve_inbox())
            alerts = [_alert("door", 1), _alert("door", 2), _alert("yard", 3)]
            for alert in alerts:
                await guard.emit(alert)
            await inbox.wait_until(lambda: len(inbox.event_ids()) == 3)  # subscribed by now
            async with aiomqtt.Client(broker.host, broker.port) as button:
                # One alert by its id, then every other alarm of the door ("*"), as a
                # Home Assistant button would; a camera this node does not have: nothing.
                await button.publish("streamwatch/test/door/ack", alerts[0].id, qos=1)
                await button.publish("streamwatch/test/roof/ack", "*", qos=1)
                await button.publish("streamwatch/test/door/ack", '{"by": "ha"}', qos=1)
            await inbox.wait_until(lambda: len(_acknowledged(inbox)) == 2)
            serving.cancel()
            assert guard.board.alarms("door") == ()
            assert [a.alert for a in guard.board.alarms("yard")] == [alerts[2]]
    first, second = _acknowledged(inbox)
    assert first["data"]["alert_id"] == alerts[0].id and first["data"]["via"] == "mqtt"
    assert second["data"]["alert_id"] == alerts[1].id and second["data"]["by"] == "ha"


def _alert(camera: str, track: int) -> Event:
    return Event.create(
        "face.maskless", node="test", camera=camera, subject=f"{camera}-{track}", data={}
    )


def _acknowledged(inbox: Inbox) -> list[dict[str, Any]]:
    documents = [json.loads(_text(m)) for m in inbox.messages if m.topic.value.endswith("/events")]
    return [d for d in documents if d["type"] == "streamwatch.alert.acknowledged"]
