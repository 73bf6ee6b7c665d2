"""Logging set-up: readable on a terminal, JSON lines elsewhere, secrets never written.

On a terminal a person reads the log: `time level logger: message [camera=… request_id=…]`.
Anywhere else (systemd's journal, a file, a pipe) a program reads it: one JSON object per
line, with `camera` and `request_id` as fields when the record has them. Under systemd
(JOURNAL_STREAM is set) each line starts with the syslog priority `<N>`, which journald turns
into the entry's priority.

Every record passes a redaction filter that replaces the configured secrets (config/secrets.py:
API key, webhook secrets, MQTT password, tokens, passwords in camera URLs, in each form they
may be written) by `***`, in its message and its traceback — a last line of defence behind code
that never logs them in the first place. One filter per handler, however often the
configuration is loaded; secrets are only ever added to it: those of a config that failed to
load (its error must not show them), and on a reload the new ones join the old, which the
parts being stopped may still log. The command line prints through the same filter's `mask`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from streamwatch.config.model import Settings
from streamwatch.config.secrets import NO_SECRETS, Secrets, config_secrets

FIELDS = ("camera", "request_id")
_SYSLOG_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Secrets = NO_SECRETS) -> None:
        super().__init__()
        self._secrets = secrets

    def add(self, secrets: Secrets) -> None:
        """Redact these secrets too, from now on."""
        # One assignment: reader threads log while the loop reloads.
        self._secrets = self._secrets | secrets

    def mask(self, text: str) -> str:
        """The text with every secret known so far replaced by ***."""
        return self._secrets.mask(text)

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if not secrets.values:
            return True
        message = record.getMessage()
        redacted = secrets.mask(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Formatted here, once (the formatters use exc_text), to be masked like the rest.
            record.exc_text = _TRACEBACK.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = secrets.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = secrets.mask(record.stack_info)
        return True


_TRACEBACK = logging.Formatter()


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
            document["exception"] = record.exc_text or self.formatException(record.exc_info)
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
    """Install one handler on the root logger, with its redaction filter (no secret known
    yet: `redaction(handler).add(…)` as configs are read); returns it."""
    handler = logging.StreamHandler(stream)
    if stream.isatty():
        handler.setFormatter(ReadableFormatter())
    else:
        handler.setFormatter(JsonFormatter(syslog_prefix="JOURNAL_STREAM" in os.environ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    redaction(handler)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    # aiohttp logs every live-view request at INFO: noise in a daemon's journal.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler


def redaction(handler: logging.Handler) -> RedactSecrets:
    """The handler's one redaction filter (added on first use)."""
    for existing in handler.filters:
        if isinstance(existing, RedactSecrets):
            return existing
    added = RedactSecrets()
    handler.addFilter(added)
    return added


def redact_settings_secrets(handler: logging.Handler, settings: Settings) -> None:
    """Redact the settings' secrets from the handler's records (as well as earlier ones)."""
    redaction(handler).add(config_secrets(settings))
