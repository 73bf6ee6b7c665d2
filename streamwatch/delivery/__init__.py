"""Delivery: the durable outbox, and the sinks that take events from it: webhook, MQTT, files."""

from streamwatch.delivery.dispatcher import Dispatcher, OutboxWrites, SinkCounters
from streamwatch.delivery.jsonl import JsonLinesSink
from streamwatch.delivery.outbox import DeadLetter, Outbox, OutboxError
from streamwatch.delivery.outbox_thread import OutboxThread
from streamwatch.delivery.service import open_delivery, outbox_path
from streamwatch.delivery.sinks import DeliveryError, Sink, build_sink
from streamwatch.delivery.state_dir import StateDirError
from streamwatch.delivery.webhook import WebhookSink

__all__ = [
    "DeadLetter",
    "DeliveryError",
    "Dispatcher",
    "JsonLinesSink",
    "Outbox",
    "OutboxError",
    "OutboxThread",
    "OutboxWrites",
    "Sink",
    "SinkCounters",
    "StateDirError",
    "WebhookSink",
    "build_sink",
    "open_delivery",
    "outbox_path",
]
