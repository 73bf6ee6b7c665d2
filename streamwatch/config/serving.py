"""The settings of what the daemon serves over HTTP: the live view (`[overlay]`, with the
native window and the kiosk's alarms) and the status endpoint (`[status]`).

Both share one rule: bound to loopback, or protected by a token (`is_loopback_host`,
MIN_TOKEN_CHARS), because the live view shows faces and the status names hosts and files.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from streamwatch.config.alarms import alarm_kinds, sound_file
from streamwatch.config.base import SecretFiles
from streamwatch.config.messages import OverlayMessages
from streamwatch.events.kind import EventKind


def is_loopback_host(host: str) -> bool:
    """True for an address only this machine can reach ("127.0.0.1", "::1", "localhost")."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


class OverlaySettings(SecretFiles):
    secret_fields = ("token",)

    web: bool = True
    # Bound to loopback by default: the live view shows faces. Any other address needs a token.
    web_host: str = "127.0.0.1"
    web_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # Required by every request when set (or token_file = "/path"); always set when web_host
    # is not loopback. A browser opens any page once with ?token=…; a cookie does the rest.
    token: SecretStr | None = None
    stream_fps: Annotated[float, Field(gt=0, le=60)] = 10.0
    # MJPEG streams (/grid.mjpg, /stream/…) served at once; the next viewer gets 503 until
    # one leaves. Each costs an encode share and its socket's buffers, even one that never reads.
    max_viewers: Annotated[int, Field(ge=1, le=1000)] = 10
    stream_width_px: Annotated[int, Field(ge=64, le=3840)] = 960
    jpeg_quality: Annotated[int, Field(ge=10, le=100)] = 80
    window: bool = False  # also show a native cv2 window
    window_grid: bool = False  # one window with every camera, instead of one window each
    show_landmarks: bool = False
    recent_events: Annotated[int, Field(ge=0, le=100)] = 5
    banner_s: Annotated[float, Field(ge=0)] = 6.0  # the newest event's banner fades over this
    # The "stale" badge: no new picture, or tracks not updated, for this long.
    stale_after_s: Annotated[float, Field(gt=0)] = 5.0
    # Boxes move along the track's velocity between detections, at most this far ahead.
    follow_max_s: Annotated[float, Field(ge=0)] = 1.0
    blur_faces: bool = False  # privacy: pixelate every tracked face (and stored snapshots)
    # Alarms: an event of these kinds stays on the screens until acknowledged, or until its
    # face left alarm_hold_s ago; never replaced by a later, lesser one (the first kind here
    # is the most severe).
    alarm_events: tuple[EventKind, ...] = (EventKind.FACE_MASKLESS, EventKind.FACE_MASK_INCORRECT)
    alarm_hold_s: Annotated[float, Field(ge=0)] = 10.0
    # The kiosk page on a new alarm: "off", "tone" (a short beep), or an audio file to play.
    alarm_sound: str = "off"
    # The key (a KeyboardEvent.key: "Enter", "a", "F9") that acknowledges on the kiosk page;
    # "" for none.
    ack_key: Annotated[str, Field(pattern=r"^([A-Za-z0-9]{1,20}| )?$")] = "Enter"
    time_format: Literal["24h", "12h"] = "24h"  # every time shown, pictures and pages alike
    # The native window shows the operator's picture, or the visitor's (message drawn in).
    window_view: Literal["operator", "visitor"] = "operator"
    messages: OverlayMessages = OverlayMessages()

    @field_validator("alarm_events", mode="before")
    @classmethod
    def _alarm_kinds(cls, events: object) -> object:
        return alarm_kinds(events)

    @field_validator("alarm_sound")
    @classmethod
    def _sound_file(cls, sound: str, info: ValidationInfo) -> str:
        return sound_file(sound, Path((info.context or {}).get("base_dir", ".")))

    @field_validator("token")
    @classmethod
    def _long_token(cls, token: SecretStr | None) -> SecretStr | None:
        return _long_enough(token)

    @model_validator(mode="after")
    def _token_off_loopback(self) -> OverlaySettings:
        if self.web and self.token is None and not is_loopback_host(self.web_host):
            raise ValueError(_needs_token("web_host", self.web_host))
        return self


MIN_TOKEN_CHARS = 16


def _long_enough(token: SecretStr | None) -> SecretStr | None:
    if token is not None and len(token.get_secret_value()) < MIN_TOKEN_CHARS:
        raise ValueError(
            f"must be at least {MIN_TOKEN_CHARS} characters, e.g. from `openssl rand -hex 16`"
        )
    return token


def _needs_token(host_key: str, host: str) -> str:
    """The rule of the live view and the status server: loopback, or a token."""
    return (
        f'{host_key} = "{host}" is reachable from other machines: set token (or token_file) '
        'too, or bind to "127.0.0.1"'
    )


class StatusSettings(SecretFiles):
    secret_fields = ("token",)

    # /healthz and /metrics (Prometheus) on their own port, so a headless box without the
    # live view is still watched. Loopback by default; no secret is ever in them, but their
    # camera errors name hosts and files: any other address needs a token, as the live view.
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 9108
    # Required by every request when set (or token_file = "/path"), as
    # `Authorization: Bearer <token>` (Prometheus: `authorization: {credentials: …}`) or
    # `?token=<token>`; always set when host is not loopback.
    token: SecretStr | None = None
    # SIGTERM: calls in flight get this long to finish (their events are kept), then stop.
    stop_timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0

    @field_validator("token")
    @classmethod
    def _long_token(cls, token: SecretStr | None) -> SecretStr | None:
        return _long_enough(token)

    @model_validator(mode="after")
    def _token_off_loopback(self) -> StatusSettings:
        if self.enabled and self.token is None and not is_loopback_host(self.host):
            raise ValueError(_needs_token("host", self.host))
        return self
