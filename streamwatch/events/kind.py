"""The kinds of event streamwatch emits: one closed set, named once.

On the wire an event's CloudEvents `type` is "streamwatch." + its kind ("streamwatch.face.new").
Code that acts on kinds matches them exhaustively (`assert_never` in the last case), so a kind
added here is an error wherever it is not yet handled (mypy).
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    FACE_NEW = "face.new"
    FACE_RETURNED = "face.returned"
    FACE_LEFT = "face.left"
    FACE_MASKLESS = "face.maskless"
    FACE_MASK_INCORRECT = "face.mask_incorrect"
    FACE_LOW_QUALITY = "face.low_quality"
    CAMERA_OFFLINE = "camera.offline"
    CAMERA_ONLINE = "camera.online"
    ANALYZER_DEGRADED = "analyzer.degraded"
    ANALYZER_RECOVERED = "analyzer.recovered"
    # Someone acknowledged an alert (the kiosk's button or key, the API, MQTT): data.alert_id.
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
