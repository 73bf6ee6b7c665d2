"""Event: what streamwatch tells the world, as a CloudEvents 1.0 structured-mode JSON object."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streamwatch.events.kind import EventKind

EVENT_TYPE_PREFIX = "streamwatch."


@dataclass(frozen=True, slots=True)
class Event:
    id: str  # unique, and the same on every redelivery: receivers de-duplicate on it
    type: str  # "streamwatch.face.new", …
    source: str  # "streamwatch://<node>/<camera>"
    time: datetime  # when the event was decided (UTC)
    subject: str | None  # the track id for face events
    data: Mapping[str, Any]

    @classmethod
    def create(
        cls,
        kind: str,
        *,
        node: str,
        camera: str,
        subject: str | None,
        data: Mapping[str, Any],
        time: datetime | None = None,
    ) -> Event:
        """A new event of `kind` with a fresh id. A plain string must name an EventKind
        ("face.new", …): ValueError otherwise."""
        time = time or datetime.now(UTC)
        # Millisecond precision, as serialised: an event read back equals the one written.
        time = time.replace(microsecond=time.microsecond // 1000 * 1000)
        return cls(
            id=str(uuid.uuid4()),
            type=EVENT_TYPE_PREFIX + EventKind(kind),
            source=f"streamwatch://{node}/{camera}",
            time=time,
            subject=subject,
            data=data,
        )

    @property
    def kind(self) -> EventKind:
        """The type without the "streamwatch." prefix: "face.new", "camera.offline", …"""
        return EventKind(self.type.removeprefix(EVENT_TYPE_PREFIX))

    @property
    def camera(self) -> str:
        return self.source.rsplit("/", 1)[-1]

    def to_cloudevent(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": dict(self.data),
        }
        if self.subject is not None:
            document["subject"] = self.subject
        return document

    def to_json(self) -> str:
        return json.dumps(self.to_cloudevent(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_cloudevent(cls, document: Mapping[str, Any]) -> Event:
        return cls(
            id=document["id"],
            type=document["type"],
            source=document["source"],
            time=datetime.fromisoformat(document["time"].replace("Z", "+00:00")),
            subject=document.get("subject"),
            data=document.get("data", {}),
        )
