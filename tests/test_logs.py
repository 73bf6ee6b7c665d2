"""Log records: readable on a terminal, JSON with fields elsewhere, secrets never written."""

from __future__ import annotations

import io
import json
import logging

import pytest

from streamwatch.app.logs import RedactSecrets, configure_logging, redact_settings_secrets
from streamwatch.config import parse_settings


@pytest.fixture(autouse=True)
def _restore_root_logger() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def test_off_a_terminal_each_record_is_one_json_object_with_its_fields() -> None:
    stream = io.StringIO()
    configure_logging("info", stream=stream)
    logging.getLogger("streamwatch.test").warning(
        "camera %s: stalled", "door", extra={"camera": "door"}
    )
    logging.getLogger("streamwatch.test").error(
        "call 3: HTTP 500", extra={"request_id": "9f8e7d6c-aa", "camera": None}
    )
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "warning" and first["camera"] == "door"
    assert first["message"] == "camera door: stalled" and "request_id" not in first
    assert second["request_id"] == "9f8e7d6c-aa" and "camera" not in second


def test_configured_secrets_are_replaced_in_every_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEY", "sk-live-0123456789")
    settings = parse_settings(
        '[[cameras]]\nname = "door"\nsource = "rtsp://viewer:p%40ss-word@127.0.0.1/x"\n'
        '[analyzer]\nkind = "ailab"\napi_key = "${KEY}"\n'
    )
    stream = io.StringIO()
    handler = configure_logging("info", stream=stream)
    redact_settings_secrets(handler, settings)
    log = logging.getLogger("streamwatch.test")
    log.error("sent key %s to %s", "sk-live-0123456789", settings.cameras[0].source)
    log.error("decoded password: p@ss-word")
    text = stream.getvalue()
    assert "sk-live-0123456789" not in text and "p%40ss-word" not in text
    assert "p@ss-word" not in text and text.count("***") == 3


def test_each_reload_replaces_the_secrets_in_one_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    # SIGHUP loads the configuration again (a key rotated): still one filter, with the new key.
    stream = io.StringIO()
    handler = configure_logging("info", stream=stream)
    for key in ("sk-live-first-000", "sk-live-second-11", "sk-live-third-222"):
        monkeypatch.setenv("KEY", key)
        settings = parse_settings('[analyzer]\nkind = "ailab"\napi_key = "${KEY}"\n')
        redact_settings_secrets(handler, settings)
    assert len([f for f in handler.filters if isinstance(f, RedactSecrets)]) == 1
    logging.getLogger("streamwatch.test").error("key sk-live-third-222")
    assert stream.getvalue().count("***") == 1 and "sk-live-third-222" not in stream.getvalue()
