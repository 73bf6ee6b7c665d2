"""Home Assistant MQTT discovery: each camera appears as a device with three entities.

    <discovery_prefix>/sensor/streamwatch_<node>/<camera>_faces/config        faces in view
    <discovery_prefix>/sensor/streamwatch_<node>/<camera>_maskless/config     of them, maskless
    <discovery_prefix>/binary_sensor/streamwatch_<node>/<camera>_online/config  connectivity

Published retained, so Home Assistant finds them whenever it starts, and again when it says it
started (`<discovery_prefix>/status` = "online"). Every entity is unavailable while the node's
status topic says "offline" (the last will).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from streamwatch import __version__
from streamwatch.delivery.mqtt_layout import OFFLINE, ONLINE, Topics

_NOT_AN_ID_CHARACTER = re.compile(r"[^A-Za-z0-9_-]")


def discovery_id(name: str) -> str:
    """`name` as Home Assistant allows in a discovery topic's node and object ids.

    A name with other characters gets them replaced and a short hash of the name appended:
    the boxes "lobby.1" and "lobby_1" of one fleet, on one broker, must not share their
    entities' unique ids.
    """
    allowed = _NOT_AN_ID_CHARACTER.sub("_", name)
    if allowed == name:
        return name
    return f"{allowed}_{hashlib.blake2s(name.encode(), digest_size=3).hexdigest()}"


def birth_topic(discovery_prefix: str) -> str:
    return f"{discovery_prefix}/status"


def discovery_messages(
    topics: Topics, cameras: Sequence[str], discovery_prefix: str
) -> list[tuple[str, str]]:
    """The (topic, JSON payload) of every entity of every camera."""
    node_id = f"streamwatch_{discovery_id(topics.node)}"
    origin = {"name": "streamwatch", "sw": __version__}
    messages = []
    for camera in cameras:
        object_prefix = discovery_id(camera)
        device = {
            "identifiers": [f"{node_id}_{object_prefix}"],
            "name": f"{camera} ({topics.node})",
            "manufacturer": "streamwatch",
            "model": "camera face monitor",
            "sw_version": __version__,
        }
        entities: list[tuple[str, str, dict[str, Any]]] = [
            (
                "sensor",
                "faces",
                {
                    "name": "Faces present",
                    "state_topic": topics.faces(camera),
                    "state_class": "measurement",
                    "icon": "mdi:face-recognition",
                },
            ),
            (
                "sensor",
                "maskless",
                {
                    "name": "Faces without a mask",
                    "state_topic": topics.maskless(camera),
                    "state_class": "measurement",
                    "icon": "mdi:face-mask-outline",
                },
            ),
            (
                "binary_sensor",
                "online",
                {
                    "name": "Camera",
                    "state_topic": topics.status(camera),
                    "device_class": "connectivity",
                    "payload_on": ONLINE,
                    "payload_off": OFFLINE,
                },
            ),
        ]
        for component, what, entity in entities:
            object_id = f"{object_prefix}_{what}"
            payload = entity | {
                "unique_id": f"{node_id}_{object_id}",
                "availability_topic": topics.node_status,
                "payload_available": ONLINE,
                "payload_not_available": OFFLINE,
                "device": device,
                "origin": origin,
            }
            topic = f"{discovery_prefix}/{component}/{node_id}/{object_id}/config"
            messages.append((topic, json.dumps(payload, sort_keys=True)))
    return messages
