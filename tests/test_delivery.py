"""Delivery: JSON-lines sink, signed webhook to a real aiohttp receiver, retries in order."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from standardwebhooks.webhooks import Webhook

from streamwatch.config import JsonLinesSinkSettings, WebhookSinkSettings
from streamwatch.delivery import DeliveryError, Dispatcher, JsonLinesSink, WebhookSink
from streamwatch.events import Event

from .support.webhook_receiver import webhook_receiver

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _event(n: int, camera: str = "door") -> Event:
    return Event.create(
        "face.new", node="test", camera=camera, subject=f"{camera}-{n}", data={"n": n}
    )


async def test_jsonl_sink_appends_one_cloudevent_per_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonLinesSink(JsonLinesSinkSettings(kind="jsonl", path=str(path)))
    events = [_event(n) for n in range(3)]
    for event in events:
        await sink.deliver(event)
    await sink.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [event.id for event in events]


async def test_webhook_is_signed_as_standard_webhooks_says() -> None:
    async with webhook_receiver() as receiver, aiohttp.ClientSession() as session:
        settings = WebhookSinkSettings(kind="webhook", url=receiver.url, secret=SECRET)
        event = _event(1)
        await WebhookSink(settings, session).deliver(event)
        (received,) = await receiver.wait_for(1)
    assert received.headers["webhook-id"] == event.id
    verified = Webhook(SECRET).verify(received.body, received.headers)
    assert verified["id"] == event.id
    assert received.headers["Content-Type"] == "application/cloudevents+json"


async def test_webhook_4xx_is_permanent_and_5xx_retryable() -> None:
    async with webhook_receiver() as receiver, aiohttp.ClientSession() as session:
        sink = WebhookSink(WebhookSinkSettings(kind="webhook", url=receiver.url), session)
        receiver.fail_statuses = [400, 503]
        with pytest.raises(DeliveryError) as rejected:
            await sink.deliver(_event(1))
        assert not rejected.value.retryable
        with pytest.raises(DeliveryError) as unavailable:
            await sink.deliver(_event(1))
        assert unavailable.value.retryable


async def test_dispatcher_retries_until_delivered_in_order() -> None:
    async with webhook_receiver() as receiver, aiohttp.ClientSession() as session:
        receiver.fail_statuses = [503, 503, 500]
        sink = WebhookSink(WebhookSinkSettings(kind="webhook", url=receiver.url), session)
        events = [_event(n) for n in range(5)]
        async with Dispatcher([sink], retry_initial_s=0.01, retry_max_s=0.05) as dispatcher:
            for event in events:
                dispatcher.submit(event)
            received = await receiver.wait_for(5)
        assert [r.event["id"] for r in received] == [event.id for event in events]
        counters = dispatcher.counters[sink.name]
        assert counters.delivered == 5 and counters.retried == 3 and counters.pending == 0


async def test_dispatcher_keeps_other_sinks_going_while_one_is_down(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    dead = WebhookSinkSettings(kind="webhook", url="http://127.0.0.1:9/unreachable", timeout_s=1)
    async with aiohttp.ClientSession() as session:
        webhook = WebhookSink(dead, session)
        jsonl = JsonLinesSink(JsonLinesSinkSettings(kind="jsonl", path=str(path)))
        dispatcher = Dispatcher([webhook, jsonl], retry_initial_s=0.01, drain_timeout_s=0.5)
        async with dispatcher:
            for n in range(3):
                dispatcher.submit(_event(n))
        assert len(path.read_text().splitlines()) == 3
        assert dispatcher.counters[webhook.name].pending == 3
        assert dispatcher.counters[webhook.name].last_error is not None
