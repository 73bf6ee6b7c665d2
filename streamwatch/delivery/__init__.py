"""Delivery: events to sinks, retried until delivered."""

from streamwatch.delivery.dispatcher import Dispatcher, SinkCounters
from streamwatch.delivery.sinks import (
    DeliveryError,
    JsonLinesSink,
    Sink,
    WebhookSink,
    build_sink,
)

__all__ = [
    "DeliveryError",
    "Dispatcher",
    "JsonLinesSink",
    "Sink",
    "SinkCounters",
    "WebhookSink",
    "build_sink",
]
