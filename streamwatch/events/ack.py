"""Acknowledging an alert: who asked, how, and the `alert.acknowledged` event that says so.

An acknowledgement is an event like any other: it goes through the outbox to every sink (and
into the history), and the scene board's alarms end the alert when they see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event

MAX_BY_CHARS: Final = 64


class AckVia(StrEnum):
    BUTTON = "button"  # the Acknowledge button of the operator's page
    KEY = "key"  # overlay.ack_key on the kiosk page
    API = "api"  # POST /api/alerts/<id>/ack from anything else
    MQTT = "mqtt"  # <topic_prefix>/<node>/<camera>/ack


@dataclass(frozen=True, slots=True)
class AckRequest:
    """Someone asks to acknowledge an alert, or (no `alert_id`) every active alarm of
    `camera` (an MQTT button)."""

    via: AckVia
    alert_id: str | None = None
    camera: str | None = None  # where the request came for (MQTT: the topic's camera)
    by: str = ""  # who, in their own words ("desk 2"); cut to MAX_BY_CHARS
    address: str | None = None  # the client's address, when it came over HTTP

    def __post_init__(self) -> None:
        if self.alert_id is None and self.camera is None:
            raise ValueError("an acknowledgement names an alert, or a camera for all of its")


class AckOutcome(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    ALREADY = "already acknowledged"  # once is enough: the first acknowledgement's id
    NOT_AN_ALERT = "not an alert"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AckResult:
    outcome: AckOutcome
    alert_id: str | None
    acknowledgement_id: str | None = None


def acknowledgement(alert: Event, request: AckRequest, *, node: str) -> Event:
    """The `alert.acknowledged` event of `alert`, on its camera, about its face."""
    by = "".join(c for c in request.by if c.isprintable()).strip()[:MAX_BY_CHARS]
    return Event.create(
        EventKind.ALERT_ACKNOWLEDGED,
        node=node,
        camera=alert.camera,
        subject=alert.subject,
        data={
            "camera": alert.camera,
            "alert_id": alert.id,
            "alert_type": alert.type,
            "alert_time": alert.to_cloudevent()["time"],
            "via": str(request.via),
            "by": by or None,
            "address": request.address,
        },
    )
