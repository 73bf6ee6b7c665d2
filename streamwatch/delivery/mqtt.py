"""The MQTT sink (aiomqtt): events at QoS 1, retained per-camera state, a last will, and Home
Assistant discovery. Topics: see mqtt_layout.

A task keeps the connection: it connects (backing off with jitter while the broker is away),
announces the node online with its discovery and state, and reconnects when the connection
drops, so Home Assistant sees the cameras even before the first event. `deliver` publishes on
the current connection and succeeds once the broker acknowledged (PUBACK); while there is none
it fails as retryable and the dispatcher keeps the event.

Only events made since the sink started change the per-camera state: an event of an earlier
run, still in the outbox, is delivered on the events topic, but the faces it counted left with
that run's tracker.

Given an inbox for them, the sink also listens on each camera's `ack` topic (QoS 1) and leaves
the acknowledgements asked for there (events.ack.AckRequest) in the inbox; the app makes them
into `alert.acknowledged` events. Whoever may publish to the broker may acknowledge: give the
broker's users rights accordingly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Self

import aiomqtt

from streamwatch.backoff import Backoff
from streamwatch.config.sinks import MqttSinkSettings
from streamwatch.delivery.homeassistant import birth_topic, discovery_messages
from streamwatch.delivery.mqtt_layout import OFFLINE, ONLINE, CameraPresence, Topics
from streamwatch.delivery.sinks import DeliveryError, type_filter
from streamwatch.events.ack import AckRequest
from streamwatch.events.model import Event

log = logging.getLogger("streamwatch.delivery")

QOS_AT_LEAST_ONCE = 1


class MqttSink:
    def __init__(
        self,
        settings: MqttSinkSettings,
        *,
        node: str,
        cameras: Sequence[str],
        reconnect_initial_s: float = 1.0,
        reconnect_max_s: float = 60.0,
        acks: asyncio.Queue[AckRequest] | None = None,
    ) -> None:
        self.name = settings.sink_name
        self.topics = Topics(settings.topic_prefix, node)
        self._settings = settings
        self._publishes = type_filter(settings.event_types)
        self._cameras = list(cameras)
        self._presence = {camera: CameraPresence() for camera in cameras}
        self._started = datetime.now(UTC)
        self._backoff = Backoff(reconnect_initial_s, reconnect_max_s)
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._last_error = "not connected yet"
        self._keeper: asyncio.Task[None] | None = None
        self._acks = acks

    def accepts(self, event_type: str) -> bool:
        return True  # the per-camera state follows every event; `event_types` filters publishing

    async def __aenter__(self) -> Self:
        self._keeper = asyncio.create_task(self._keep_connected(), name=f"sink {self.name}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            # The will goes out only on a lost connection: a clean stop says it itself.
            with contextlib.suppress(aiomqtt.MqttError):
                await self._publish(self._client, self.topics.node_status, OFFLINE, retain=True)
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper

    async def deliver(self, event: Event) -> None:
        client = await self._current_client()
        camera = event.camera
        messages: list[tuple[str, str, bool]] = []
        if self._publishes(event.type):
            messages.append((self.topics.events(camera), event.to_json(), False))
        presence = self._presence.get(camera)
        if presence is not None and event.time >= self._started and presence.apply(event):
            messages += [
                (topic, payload, True) for topic, payload in presence.retained(self.topics, camera)
            ]
        try:
            for topic, payload, retain in messages:
                await self._publish(client, topic, payload, retain=retain)
        except aiomqtt.MqttError as error:
            raise DeliveryError(f"{self.name}: {error}", retryable=True) from None

    async def _current_client(self) -> aiomqtt.Client:
        """The connected client, waiting for a reconnect up to the time-out."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._settings.timeout_s):
                await self._connected.wait()
        if self._client is None:
            raise DeliveryError(f"{self.name}: {self._last_error}", retryable=True)
        return self._client

    async def _keep_connected(self) -> None:
        while True:
            try:
                async with self._new_client() as client:
                    await self._announce(client)
                    self._client = client
                    self._connected.set()
                    self._backoff.reset()
                    log.info("%s: connected", self.name)
                    await self._serve(client)
            except aiomqtt.MqttError as error:
                self._last_error = f"no connection ({error})"
                log.warning("%s: %s", self.name, self._last_error)
            finally:
                self._connected.clear()
                self._client = None
            await asyncio.sleep(self._backoff.next_delay_s())

    def _new_client(self) -> aiomqtt.Client:
        settings = self._settings
        password = None if settings.password is None else settings.password.get_secret_value()
        return aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=password,
            identifier=settings.client_id or f"streamwatch-{self.topics.node}",
            will=aiomqtt.Will(self.topics.node_status, OFFLINE, qos=QOS_AT_LEAST_ONCE, retain=True),
            clean_session=True,  # all state is republished on every connect
            keepalive=settings.keepalive_s,
            timeout=settings.timeout_s,
            tls_context=ssl.create_default_context() if settings.tls else None,
        )

    async def _announce(self, client: aiomqtt.Client) -> None:
        """Node online, the discovery documents and every camera's state, all retained."""
        messages = [(self.topics.node_status, ONLINE)]
        if self._settings.discovery:
            messages += discovery_messages(
                self.topics, self._cameras, self._settings.discovery_prefix
            )
        for camera, presence in self._presence.items():
            messages += presence.retained(self.topics, camera)
        for topic, payload in messages:
            await self._publish(client, topic, payload, retain=True)

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Until the connection drops (MqttError); announce again when Home Assistant starts,
        and pass on the acknowledgements asked for."""
        if self._settings.discovery:
            await client.subscribe(birth_topic(self._settings.discovery_prefix))
        if self._acks is not None:
            await client.subscribe(self.topics.acks, qos=QOS_AT_LEAST_ONCE)
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            topic = str(message.topic)
            if self._acks is not None and topic.endswith("/ack"):
                self._pass_on(self.topics.ack_request(topic, payload, self._cameras), topic)
            elif payload == ONLINE.encode():
                await self._announce(client)

    def _pass_on(self, request: AckRequest | None, topic: str) -> None:
        assert self._acks is not None
        if request is None:
            log.warning("%s: ignored a message on %s that asks for nothing known", self.name, topic)
            return
        try:
            self._acks.put_nowait(request)
        except asyncio.QueueFull:
            log.warning("%s: too many acknowledgements at once: one ignored", self.name)

    async def _publish(
        self, client: aiomqtt.Client, topic: str, payload: str, *, retain: bool
    ) -> None:
        await client.publish(topic, payload, qos=QOS_AT_LEAST_ONCE, retain=retain)
