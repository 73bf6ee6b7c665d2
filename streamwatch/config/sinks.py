"""Settings of the sinks: where events go (webhooks, MQTT, JSON lines)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    field_validator,
)
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from streamwatch.config.base import SecretFiles


class SinkBase(SecretFiles):
    # The sink's name in logs and in the outbox, which keeps its pending events and dead
    # letters under it: keep it when a url changes. Unset: made from the kind and the target.
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:#/-]{1,80}$")] | None = None
    # Only events of these types ("face.maskless", "camera.*"); empty: every event.
    event_types: tuple[Annotated[str, Field(pattern=r"^[a-z_.*]+$")], ...] = ()

    @field_validator("event_types", mode="before")
    @classmethod
    def _without_prefix(cls, types: Any) -> Any:
        if isinstance(types, list | tuple):
            return tuple(str(t).removeprefix("streamwatch.") for t in types)
        return types

    @property
    def sink_name(self) -> str:
        return self.name or self._default_name()

    def _default_name(self) -> str:
        raise NotImplementedError


class WebhookSinkSettings(SinkBase):
    secret_fields = ("secret",)

    kind: Literal["webhook"]
    url: str
    secret: SecretStr | None = None  # or secret_file = "/path/to/secret"
    timeout_s: Annotated[float, Field(gt=0)] = 10.0

    @field_validator("secret")
    @classmethod
    def _signing_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        """Checked here, as the sink will read it: a secret it cannot decode was a traceback
        when the daemon started. The message never quotes it."""
        if secret is not None:
            try:
                Webhook(secret.get_secret_value())
            except (ValueError, EmptyWebhookSecretError):  # binascii.Error, non-ASCII
                raise ValueError(
                    'must be a Standard Webhooks signing secret: "whsec_" and base64, as the '
                    "receiver gives it (or `openssl rand -base64 32`)"
                ) from None
        return secret

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url

    def _default_name(self) -> str:
        # A url's path or query often carries a token: the name shows the host and a digest.
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:8]
        return f"webhook:{urlsplit(self.url).hostname}#{digest}"


class JsonLinesSinkSettings(SinkBase):
    kind: Literal["jsonl"]
    path: str = "-"  # "-" = standard output
    # A file is renamed to <path>.1 (.1 to .2, …) once it reaches rotate_mb; keep_files of
    # them are kept. 0 = never rotate.
    rotate_mb: Annotated[float, Field(ge=0)] = 100.0
    keep_files: Annotated[int, Field(ge=1, le=1000)] = 5

    def _default_name(self) -> str:
        return "stdout" if self.path == "-" else f"jsonl:{self.path}"


class MqttSinkSettings(SinkBase):
    secret_fields = ("password",)

    kind: Literal["mqtt"]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    username: str | None = None
    password: SecretStr | None = None  # or password_file = "/path/to/password"
    tls: bool = False
    # Topics: <topic_prefix>/<node>/<camera>/events, …/status, …/faces, …/maskless.
    topic_prefix: Annotated[str, Field(pattern=r"^[^#+]+$")] = "streamwatch"
    client_id: str | None = None  # unset: streamwatch-<node>
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    # Home Assistant MQTT discovery: per camera sensors, without any YAML.
    discovery: bool = True
    discovery_prefix: Annotated[str, Field(pattern=r"^[^#+]+$")] = "homeassistant"

    def _default_name(self) -> str:
        return f"mqtt:{self.host}:{self.port}"


SinkSettings = Annotated[
    WebhookSinkSettings | JsonLinesSinkSettings | MqttSinkSettings, Field(discriminator="kind")
]
