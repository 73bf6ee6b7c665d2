"""What the MQTT sink publishes where, and the per-camera state it keeps retained.

<prefix>/<node>/status             "online" / "offline" (retained; "offline" is the will)
<prefix>/<node>/<camera>/events    every event, CloudEvents JSON (QoS 1, not retained)
<prefix>/<node>/<camera>/status    "online" / "offline" (retained)
<prefix>/<node>/<camera>/faces     faces in view now, an integer (retained)
<prefix>/<node>/<camera>/maskless  faces in view now without a mask, an integer (retained)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamwatch.events.model import Event

ONLINE = "online"
OFFLINE = "offline"


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

    def _camera(self, camera: str, leaf: str) -> str:
        return f"{self.prefix}/{self.node}/{camera}/{leaf}"


@dataclass
class CameraPresence:
    """What a camera sees now, as its events tell it.

    A camera counts as online until a camera.offline says otherwise (the pipeline announces
    only changes, and a dead camera's camera.offline follows within offline_after_s). Applying
    an event twice (a retried delivery) changes nothing.
    """

    online: bool = True
    faces: set[str] = field(default_factory=set)  # track ids
    maskless: set[str] = field(default_factory=set)

    def apply(self, event: Event) -> bool:
        """Update from one event; whether it concerned the state at all."""
        track = event.subject or ""
        match event.kind:
            case "face.new":
                self.faces.add(track)
            case "face.maskless":
                self.faces.add(track)
                self.maskless.add(track)
            case "face.left":
                self.faces.discard(track)
                self.maskless.discard(track)
            case "camera.offline":
                self.online = False
            case "camera.online":
                self.online = True
            case _:
                return False
        return True

    def retained(self, topics: Topics, camera: str) -> list[tuple[str, str]]:
        """The retained (topic, payload) pairs that state this camera's presence."""
        return [
            (topics.status(camera), ONLINE if self.online else OFFLINE),
            (topics.faces(camera), str(len(self.faces))),
            (topics.maskless(camera), str(len(self.maskless))),
        ]
