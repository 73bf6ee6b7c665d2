"""Secrets stay secret: a webhook's signing secret and the token in its url, and an MQTT
password, appear in no log line, error, counter, dead letter or `streamwatch outbox list`."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from streamwatch.config import MqttSinkSettings, Settings, WebhookSinkSettings
from streamwatch.delivery import Outbox, WebhookSink
from streamwatch.delivery.admin import describe
from streamwatch.delivery.mqtt import MqttSink
from streamwatch.events import Event

from .support.dispatching import dispatching
from .support.mosquitto import mosquitto
from .support.ports import free_port
from .support.webhook_receiver import webhook_receiver

TOKEN = "tok3n-in-the-url-9f8e7d"
SIGNING_KEY = "c2lnbmluZy1rZXktbm90LWZvci1sb2dz"
MQTT_PASSWORD = "mqtt-pa55word-not-for-logs"


def _event(n: int) -> Event:
    return Event.create("face.new", node="n", camera="door", subject=f"door-{n}", data={"n": n})


async def test_webhook_secrets_are_in_no_log_error_or_listing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    closed_port = free_port()
    async with webhook_receiver(path=f"/hooks/{TOKEN}") as receiver:
        urls = [f"{receiver.url}?token={TOKEN}", f"http://127.0.0.1:{closed_port}/h/{TOKEN}"]
        settings = [
            WebhookSinkSettings(kind="webhook", url=url, secret=f"whsec_{SIGNING_KEY}", timeout_s=1)
            for url in urls
        ]
        receiver.fail_statuses = [503, 400]
        with caplog.at_level(logging.DEBUG):
            async with aiohttp.ClientSession() as session:
                sinks = [WebhookSink(s, session) for s in settings]
                async with dispatching(
                    tmp_path / "outbox.db", sinks, drain_timeout_s=0.1
                ) as dispatcher:
                    await dispatcher.submit(_event(1))
                    await dispatcher.submit(_event(2))
                    await dispatcher.wait_until(
                        lambda: (
                            dispatcher.counters[sinks[0].name].delivered == 1
                            and dispatcher.counters[sinks[1].name].retried >= 2
                        )
                    )
                    listing = await dispatcher.outbox.call(describe, Settings(sinks=settings))
                    letters = await dispatcher.outbox.call(Outbox.dead_letters)
                    refusals = [letter.error for letter in letters]
    assert refusals == [f"{sinks[0].name}: HTTP 400"]
    # Everything logged but the test receiver's own access log, which shows what it was sent.
    logged = [r.getMessage() for r in caplog.records if r.name != "aiohttp.access"]
    seen = [
        *logged,
        listing,
        *(str(c) for c in dispatcher.counters.values()),
        *refusals,
    ]
    for text in seen:
        assert TOKEN not in text and SIGNING_KEY not in text


async def test_the_mqtt_password_is_used_and_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with mosquitto(tmp_path, users={"streamwatch": MQTT_PASSWORD}) as broker:

        def sink(password: str) -> MqttSink:
            settings = MqttSinkSettings(
                kind="mqtt",
                host=broker.host,
                port=broker.port,
                username="streamwatch",
                password=password,
                timeout_s=0.5,
            )
            return MqttSink(settings, node="n", cameras=["door"], reconnect_initial_s=0.05)

        with caplog.at_level(logging.DEBUG):
            refused = sink("wrong-" + MQTT_PASSWORD)
            async with dispatching(tmp_path / "refused.db", [refused], drain_timeout_s=0.1) as d:
                await d.submit(_event(1))
                await d.wait_until(lambda: d.counters[refused.name].retried >= 2)
            error = d.counters[refused.name].last_error
            assert error is not None and "Not authorized" in error

            accepted = sink(MQTT_PASSWORD)
            async with dispatching(tmp_path / "accepted.db", [accepted]) as d:
                await d.submit(_event(1))
                await d.wait_until(lambda: d.counters[accepted.name].delivered == 1)
    assert MQTT_PASSWORD not in caplog.text
    assert MQTT_PASSWORD not in error
