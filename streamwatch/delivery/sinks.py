"""Sinks: where events go. Each delivers one event, or raises DeliveryError saying what next."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from typing import Protocol, Self

import aiohttp

from streamwatch.config.model import OutboxSettings
from streamwatch.config.sinks import (
    JsonLinesSinkSettings,
    MqttSinkSettings,
    SinkSettings,
    WebhookSinkSettings,
)
from streamwatch.events.ack import AckRequest
from streamwatch.events.model import EVENT_TYPE_PREFIX, Event


class DeliveryError(Exception):
    """A delivery that failed.

    `retryable`: sending the same event again may succeed (the receiver is down, busy or slow);
    otherwise the receiver refused this event and it becomes a dead letter. `retry_after_s`:
    how long the receiver asked us to wait (Retry-After), if it did.
    """

    def __init__(
        self, message: str, *, retryable: bool, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class Sink(Protocol):
    """Open between `__aenter__` and `__aexit__`; `deliver` is awaited one event at a time."""

    name: str

    def accepts(self, event_type: str) -> bool:
        """Whether events of this type (`streamwatch.face.new`) are for this sink at all."""
        ...

    async def deliver(self, event: Event) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


def type_filter(patterns: Sequence[str]) -> Callable[[str], bool]:
    """Event types matching any pattern ("face.maskless", "camera.*"); no pattern: all."""

    def accepts(event_type: str) -> bool:
        kind = event_type.removeprefix(EVENT_TYPE_PREFIX)
        return not patterns or any(fnmatchcase(kind, pattern) for pattern in patterns)

    return accepts


def build_sink(
    settings: SinkSettings,
    *,
    session: aiohttp.ClientSession,
    node: str,
    cameras: Sequence[str],
    retry: OutboxSettings,
    acks: asyncio.Queue[AckRequest] | None = None,
) -> Sink:
    """`acks`: where an MQTT sink leaves the acknowledgements asked for on its topics."""
    if isinstance(settings, WebhookSinkSettings):
        from streamwatch.delivery.webhook import WebhookSink

        return WebhookSink(settings, session)
    if isinstance(settings, MqttSinkSettings):
        from streamwatch.delivery.mqtt import MqttSink

        return MqttSink(
            settings,
            node=node,
            cameras=cameras,
            reconnect_initial_s=retry.retry_initial_s,
            reconnect_max_s=retry.retry_max_s,
            acks=acks,
        )
    assert isinstance(settings, JsonLinesSinkSettings)
    from streamwatch.delivery.jsonl import JsonLinesSink

    return JsonLinesSink(settings)
