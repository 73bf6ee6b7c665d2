"""Logging set-up: readable on a terminal, JSON lines elsewhere, secrets never written.

On a terminal a person reads the log: `time level logger: message [camera=… request_id=…]`.
Anywhere else (systemd's journal, a file, a pipe) a program reads it: one JSON object per
line, with `camera` and `request_id` as fields when the record has them. Under systemd
(JOURNAL_STREAM is set) each line starts with the syslog priority `<N>`, which journald turns
into the entry's priority.

Every record passes a redaction filter that replaces the configured secrets (API key, webhook
secrets, passwords in camera URLs) by `***` — a last line of defence behind code that never
logs them in the first place. A reload's settings replace the secrets it redacts: one filter
per handler, however often the configuration is loaded.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

from streamwatch.config.model import Settings

FIELDS = ("camera", "request_id")
_SYSLOG_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.replace(secrets)

    def replace(self, secrets: Iterable[str]) -> None:
        """Redact these secrets from now on, instead of the previous ones."""
        # Longest first, so a secret containing another is replaced whole. One assignment:
        # reader threads log while the loop reloads.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if not secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, *, syslog_prefix: bool) -> None:
        super().__init__()
        self._syslog_prefix = syslog_prefix

    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        document |= _fields(record)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        line = json.dumps(document, ensure_ascii=False)
        if self._syslog_prefix:
            return f"<{_SYSLOG_PRIORITY.get(record.levelno, 6)}>{line}"
        return line


class ReadableFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = " ".join(f"{name}={value}" for name, value in _fields(record).items())
        return f"{text} [{fields}]" if fields else text


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's structured fields (`extra=` of the logging call), those it has a value for."""
    return {name: value for name in FIELDS if (value := getattr(record, name, None)) is not None}


def configure_logging(level: str, *, stream: TextIO = sys.stderr) -> logging.Handler:
    """Install one handler on the root logger; returns it (to add the redaction later)."""
    handler = logging.StreamHandler(stream)
    if stream.isatty():
        handler.setFormatter(ReadableFormatter())
    else:
        handler.setFormatter(JsonFormatter(syslog_prefix="JOURNAL_STREAM" in os.environ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    # aiohttp logs every live-view request at INFO: noise in a daemon's journal.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler


def redact_settings_secrets(handler: logging.Handler, settings: Settings) -> None:
    """Redact the settings' secrets from the handler's records (replacing earlier settings')."""
    secrets = settings_secrets(settings)
    for existing in handler.filters:
        if isinstance(existing, RedactSecrets):
            existing.replace(secrets)
            return
    handler.addFilter(RedactSecrets(secrets))


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret value in the settings: keys, webhook secrets, camera URL passwords."""
    secrets = []
    if settings.analyzer.api_key is not None:
        secrets.append(settings.analyzer.api_key.get_secret_value())
    for sink in settings.sinks:
        for name in ("secret", "password"):
            value = getattr(sink, name, None)
            if value is not None:
                secrets.append(value.get_secret_value())
    for camera in settings.cameras:
        password = urlsplit(camera.source).password if "://" in camera.source else None
        if password:
            secrets += [password, unquote(password)]
    return secrets
