"""The findings of "bad input never leaks a secret", reproduced as a user meets them: camera
passwords with raw reserved characters (`check`, `run`), a mistyped sink kind (`check`, a
SIGHUP with a bad file), config errors that echoed secret tables, and the log redaction's reach
(tracebacks, the live view's token, secrets kept in files)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamwatch.app.logs import configure_logging, redact_settings_secrets, redaction
from streamwatch.config import ConfigError, SelectionSettings, parse_settings
from streamwatch.config.secrets import config_secrets

from .support.daemon_log import running_daemon
from .support.ports import free_port

CAMERA_PASSWORDS = ["1234/Secret", "Secret#x", "Se?cret", "Sec@ret", "Sec[ret]", "Sec:ret%"]
HOOK_SECRET = "whsec_TOPSECRETtopsecretTOPSECRET1234"
ALLOWED_SELECTION_KEYS = ", ".join(sorted(SelectionSettings.model_fields))


def streamwatch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamwatch", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_check_shows_camera_urls_with_raw_reserved_characters_masked(tmp_path: Path) -> None:
    # Before: `check` printed 1234/Secret, Secret#x, … whole and exited 0, and a '[' was a
    # "ValueError: Invalid IPv6 URL" traceback.
    cameras = "".join(
        f'[[cameras]]\nname = "cam{n}"\nsource = "rtsp://viewer:{password}@127.0.0.1:8554/c{n}"\n'
        for n, password in enumerate(CAMERA_PASSWORDS)
    )
    config = tmp_path / "cameras.toml"
    config.write_text(cameras + "[overlay]\nweb = false\n")
    result = streamwatch("check", str(config))
    assert result.returncode == 0, result.stderr
    for n in range(len(CAMERA_PASSWORDS)):
        assert f"cam{n} (rtsp://viewer:***@127.0.0.1:8554/c{n})" in result.stdout
    assert "Sec" not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_run_with_a_camera_password_holding_brackets_starts_and_never_shows_it(
    tmp_path: Path,
) -> None:
    # Before: a traceback at start (urlsplit's "Invalid IPv6 URL"); with a raw '/' or '#' but
    # no '[', the password in the warning and in camera.offline's reason.
    events = tmp_path / "events.jsonl"
    config = tmp_path / "run.toml"
    config.write_text(
        f"""state_dir = "{tmp_path / "state"}"
[[cameras]]
name = "door"
source = "rtsp://viewer:pa[ss/Secret#x@127.0.0.1:{free_port()}/cam0"
offline_after_s = 0.2
[[sinks]]
kind = "jsonl"
path = "{events}"
[overlay]
web = false
[status]
enabled = false
"""
    )
    result = streamwatch("run", "--config", str(config), "--duration", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    offline = [json.loads(line) for line in events.read_text().splitlines()]
    reason = offline[0]["data"]["reason"]
    assert offline[0]["type"] == "streamwatch.camera.offline"
    assert reason.startswith("cannot open stream rtsp://viewer:***@127.0.0.1:")
    assert "cannot open stream rtsp://viewer:***@127.0.0.1:" in result.stderr
    assert "Secret" not in result.stderr + events.read_text()


def test_check_names_a_mistyped_or_missing_sink_kind_without_the_rest_of_its_table(
    tmp_path: Path,
) -> None:
    # Before: "Input tag 'webhok' found … (got {'kind': 'webhok', …, 'secret': 'whsec_…'})",
    # the secret expanded from the environment, on the terminal and in ExecStartPre's log.
    config = tmp_path / "sinks.toml"
    config.write_text(
        '[[sinks]]\nkind = "webhok"\nurl = "http://127.0.0.1:9/hook"\nsecret = "${HOOK_SECRET}"\n'
        '[[sinks]]\nhost = "127.0.0.1"\npassword = "${HOOK_SECRET}"\n'
    )
    result = streamwatch("check", str(config), env={"HOOK_SECRET": HOOK_SECRET})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f'{config}: sinks[0].kind: unknown kind "webhok"; use one of webhook, jsonl, mqtt '
        '(did you mean "webhook"?)',
        f"{config}: sinks[1].kind: missing; use one of webhook, jsonl, mqtt",
    ]


def test_a_sighup_with_a_bad_file_logs_the_problem_and_not_the_new_secret(tmp_path: Path) -> None:
    # The running config knows nothing of the new file's secret; before, its error (the whole
    # sink table, repr'd) went to the daemon's log at error level unmasked.
    config = tmp_path / "daemon.toml"
    head = (
        f'state_dir = "{tmp_path / "state"}"\n[overlay]\nweb = false\n[status]\nenabled = false\n'
    )
    config.write_text(head + '[[cameras]]\nname = "door"\nsource = "demo"\n')
    with running_daemon(config) as daemon:
        daemon.until("events held")
        config.write_text(
            head + '[[cameras]]\nname = "door"\nsource = "demo"\n'
            f'[[sinks]]\nkind = "webhok"\nurl = "http://127.0.0.1:9/"\nsecret = "{HOOK_SECRET}"\n'
            '[[sinks]]\nkind = "webhook"\nurl = "http://127.0.0.1:9/"\ntimeout_s = "soon"\n'
            f'secret = "{HOOK_SECRET}-2"\n'
        )
        daemon.sighup()
        line = json.loads(daemon.until("configuration not reloaded")[-1])
        daemon.stop()
    assert not [text for text in daemon.lines if "TOPSECRET" in text]
    assert line["level"] == "error"
    assert 'sinks[0].kind: unknown kind "webhok"' in line["message"]
    assert "sinks[1].timeout_s: Input should be a valid number" in line["message"]


def test_config_errors_show_no_value_of_a_table_with_secrets() -> None:
    # The key and the problem; a value only outside the sections with secrets.
    text = (
        '[[sinks]]\nkind = "webhook"\nurl = "http://127.0.0.1:9/"\nsecret = 73519246810\n'
        '[overlay]\ntoken = ["tok-4f1c9a7e2b6d8e0f"]\n'
        '[analyzer]\nkind = "ailab"\napi_key = "sk-live-551234"\ntimeout_s = "soon"\n'
        '[[cameras]]\nname = "door"\nsource = 1234.5678\nfps = "many"\n'
        '[budget]\nmax_calls = "two"\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, source="c.toml")
    problems = caught.value.problems
    quotes, number = '; write it in quotes, e.g. "…"', "; write a number without quotes, e.g. 2.5"
    assert problems == [
        "cameras[0].source: Input should be a valid string" + quotes,
        "cameras[0].fps: Input should be a valid number (got 'many')" + number,
        # [budget] holds a secret too (redis_url, which may carry a password).
        "budget.max_calls: Input should be a valid integer; write a whole number "
        "without a decimal point or quotes, e.g. 8080",
        "analyzer.timeout_s: Input should be a valid number" + number,
        "sinks[0].secret: Input should be a valid string" + quotes,
        "overlay.token: Input should be a valid string" + quotes,
    ]


def test_a_config_error_is_one_line_per_problem_whatever_the_keys_hold() -> None:
    # Found by the loader's fuzz: a key of "\x1e" or "\n" was printed raw, breaking the
    # one-problem-per-line message (and a terminal's escape sequences would have run).
    text = '[selection]\n"\\u001e" = 1\n"\\u001b[2J\\n" = 2\n[[sinks]]\nkind = "web\\nhok"\n'
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, source="c.toml")
    assert str(caught.value).splitlines() == [
        'c.toml: selection."\\u001e": unknown key; allowed keys: ' + ALLOWED_SELECTION_KEYS,
        'c.toml: selection."\\u001b[2J\\n": unknown key; allowed keys: ' + ALLOWED_SELECTION_KEYS,
        'c.toml: sinks[0].kind: unknown kind "web\\nhok"; use one of webhook, jsonl, mqtt '
        '(did you mean "webhook"?)',
    ]


def test_a_webhook_secret_the_sink_cannot_decode_is_a_config_error() -> None:
    # Before: `check` said ok, and `run` died at start with binascii.Error (base64 of a length
    # 4n+1) or "string argument should contain only ASCII characters".
    for secret in ("whsec_c2VjcmV0c", "whsec_sécret-àccents"):
        text = f'[[sinks]]\nkind = "webhook"\nurl = "http://127.0.0.1:9/"\nsecret = "{secret}"\n'
        with pytest.raises(ConfigError) as caught:
            parse_settings(text)
        assert caught.value.problems == [
            'sinks[0].secret: must be a Standard Webhooks signing secret: "whsec_" and base64, '
            "as the receiver gives it (or `openssl rand -base64 32`)"
        ]


def test_the_log_masks_tracebacks_the_live_view_token_and_secrets_kept_in_files(
    tmp_path: Path, _restore_root_logger: None
) -> None:
    (tmp_path / "mqtt.pass").write_text("mqtt-pass-from-a-file\n")
    settings = parse_settings(
        '[overlay]\ntoken = "live-view-token-0123456789"\n'
        '[[sinks]]\nkind = "mqtt"\nhost = "127.0.0.1"\npassword_file = "mqtt.pass"\n',
        base_dir=tmp_path,
    )
    stream = io.StringIO()
    handler = configure_logging("info", stream=stream)
    redact_settings_secrets(handler, settings)
    log = logging.getLogger("streamwatch.test")
    log.warning("token live-view-token-0123456789 and mqtt-pass-from-a-file")
    try:
        raise RuntimeError("connect with mqtt-pass-from-a-file failed")
    except RuntimeError:
        log.exception("sink failed")  # the traceback quotes the exception's message
    text = stream.getvalue()
    assert "live-view-token" not in text and "mqtt-pass-from-a-file" not in text
    assert "RuntimeError: connect with *** failed" in json.loads(text.splitlines()[1])["exception"]
    assert len([f for f in handler.filters if f is redaction(handler)]) == 1


def test_a_config_that_failed_to_load_carries_its_secrets_in_every_form(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("sk-from-a-file-1234\n")
    raw = {
        "analyzer": {"api_key_file": "key", "timeout_s": "x"},
        "sinks": [{"kind": "webhok", "secret": 'quote"back\\slash'}],
        "cameras": [{"name": "door", "source": "rtsp://u:pa%2Fss@[10.0.0.7/cam"}],
    }
    secrets = config_secrets(raw, base_dir=tmp_path)
    masked = secrets.mask(f"{raw!r} {json.dumps(raw)} sk-from-a-file-1234 pa/ss")
    for secret in ("sk-from-a-file-1234", "quote", "pa%2Fss", "pa/ss"):
        assert secret not in masked
