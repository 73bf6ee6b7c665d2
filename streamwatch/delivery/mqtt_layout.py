"""What the MQTT sink publishes where, and the per-camera state it keeps retained.

<prefix>/<node>/status             "online" / "offline" (retained; "offline" is the will)
<prefix>/<node>/<camera>/events    every event, CloudEvents JSON (QoS 1, not retained)
<prefix>/<node>/<camera>/status    "online" / "offline" (retained)
<prefix>/<node>/<camera>/faces     faces in view now, an integer (retained)
<prefix>/<node>/<camera>/maskless  faces in view now without a mask, an integer (retained)
<prefix>/<node>/<camera>/ack       subscribed: acknowledge an alert of the camera (its id, or
                                   {"alert_id": …, "by": …}), or all of its alarms ("" or "*")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final, assert_never

from streamwatch.events.ack import AckRequest, AckVia
from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event

ONLINE = "online"
OFFLINE = "offline"
ACK = "ack"
_ALL: Final = ("", "*", "all")
_MAX_ID_CHARS: Final = 100


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    node: str

    @property
    def node_status(self) -> str:
        return f"{self.prefix}/{self.node}/status"

    def events(self, camera: str) -> str:
        return self._camera(camera, "events")

    def status(self, camera: str) -> str:
        return self._camera(camera, "status")

    def faces(self, camera: str) -> str:
        return self._camera(camera, "faces")

    def maskless(self, camera: str) -> str:
        return self._camera(camera, "maskless")

    @property
    def acks(self) -> str:
        """The filter of every camera's command topic."""
        return self._camera("+", ACK)

    def ack_request(self, topic: str, payload: bytes, cameras: list[str]) -> AckRequest | None:
        """What a message on a camera's ack topic asks for; None for another topic, an
        unknown camera, or a payload that is not text."""
        head, _, camera = topic.removesuffix(f"/{ACK}").rpartition("/")
        if (
            head != f"{self.prefix}/{self.node}"
            or camera not in cameras
            or not topic.endswith(f"/{ACK}")
        ):
            return None
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            return None
        by = ""
        if text.startswith("{"):
            try:
                document = json.loads(text)
            except ValueError:
                return None
            if not isinstance(document, dict):
                return None
            text, by = str(document.get("alert_id") or ""), str(document.get("by") or "")
        if text in _ALL:
            return AckRequest(AckVia.MQTT, camera=camera, by=by)
        if len(text) > _MAX_ID_CHARS or not text.isprintable():
            return None
        return AckRequest(AckVia.MQTT, alert_id=text, camera=camera, by=by)

    def _camera(self, camera: str, leaf: str) -> str:
        return f"{self.prefix}/{self.node}/{camera}/{leaf}"


@dataclass
class CameraPresence:
    """What a camera sees now, as its events tell it.

    A camera counts as online until a camera.offline says otherwise (the pipeline announces
    only changes, and a dead camera's camera.offline follows within offline_after_s). A face
    is in view from any event about it (face.new, face.returned, or a state when those are
    silenced) until its face.left. Applying an event twice (a retried delivery) changes
    nothing.
    """

    online: bool = True
    faces: set[str] = field(default_factory=set)  # track ids
    maskless: set[str] = field(default_factory=set)

    def apply(self, event: Event) -> bool:
        """Update from one event; whether it concerned the state at all."""
        track = event.subject or ""
        kind = event.kind
        match kind:
            case (
                EventKind.FACE_NEW
                | EventKind.FACE_RETURNED
                | EventKind.FACE_MASK_INCORRECT
                | EventKind.FACE_LOW_QUALITY
            ):
                self.faces.add(track)
            case EventKind.FACE_MASKLESS:
                self.faces.add(track)
                self.maskless.add(track)
            case EventKind.FACE_LEFT:
                self.faces.discard(track)
                self.maskless.discard(track)
            case EventKind.CAMERA_OFFLINE:
                self.online = False
            case EventKind.CAMERA_ONLINE:
                self.online = True
            case (
                EventKind.ANALYZER_DEGRADED
                | EventKind.ANALYZER_RECOVERED
                | EventKind.ALERT_ACKNOWLEDGED
            ):
                return False
            case _:
                assert_never(kind)
        return True

    def retained(self, topics: Topics, camera: str) -> list[tuple[str, str]]:
        """The retained (topic, payload) pairs that state this camera's presence."""
        return [
            (topics.status(camera), ONLINE if self.online else OFFLINE),
            (topics.faces(camera), str(len(self.faces))),
            (topics.maskless(camera), str(len(self.maskless))),
        ]
