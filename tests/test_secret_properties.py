"""Property: whatever a password holds — any printable character, `/#?@[]:%` often — it is in no
output, log record, event, /healthz or /metrics body. Generated secrets go into a camera URL
(raw or percent-encoded), a webhook secret, an MQTT password, the API key and the live view's
token, through `streamwatch check`, an App's start-up with that camera unreachable (its
camera.offline delivered to every sink), and a daemon's SIGHUP reload of a bad file.

Each secret is two marks (`Zx` and six letters or digits, found in no output by chance) around
the generated characters: a leak of either end is caught, not only of the whole.
"""

from __future__ import annotations

import asyncio
import json
import logging
import string
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from streamwatch.app.runner import App
from streamwatch.cli import main
from streamwatch.config import parse_settings

from .support.daemon_log import running_daemon
from .support.mosquitto import mosquitto
from .support.ports import free_port
from .support.webhook_receiver import webhook_receiver

RESERVED = "/#?@[]:%"
_MARK = st.text(string.ascii_letters + string.digits, min_size=6, max_size=6).map("Zx".__add__)
_CHARACTER = st.one_of(
    st.sampled_from(RESERVED),
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp")),
)


def _text(characters: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Up to 12 of them. Not st.text: it would merge the reserved characters into the other
    alphabet, where they come once in a hundred thousand."""
    return st.lists(characters, max_size=12).map("".join)


@dataclass(frozen=True)
class Secret:
    head: str
    middle: str
    tail: str

    @property
    def value(self) -> str:
        return self.head + self.middle + self.tail

    def given_away_by(self, text: str) -> bool:
        return self.head in text or self.tail in text or self.value in text


# "${NAME}" would be an environment reference, not a password.
_SECRET = st.builds(Secret, _MARK, _text(_CHARACTER), _MARK).filter(
    lambda secret: "${" not in secret.value
)


@dataclass(frozen=True)
class Secrets:
    camera: Secret
    webhook: Secret
    mqtt: Secret
    api_key: Secret
    token: Secret
    camera_encoded: bool  # the URL has the password percent-encoded, else raw

    def __iter__(self) -> Iterator[Secret]:
        return iter((self.camera, self.webhook, self.mqtt, self.api_key, self.token))

    def leaks(self, texts: Iterable[str]) -> list[str]:
        return [text for text in texts for secret in self if secret.given_away_by(text)]

    @property
    def signable(self) -> bool:
        """Whether the webhook secret is one a sink can sign with (else: a config error)."""
        try:
            Webhook(self.webhook.value)
        except ValueError:  # not base64, or not ASCII
            return False
        return True


SECRETS = st.builds(Secrets, _SECRET, _SECRET, _SECRET, _SECRET, _SECRET, st.booleans())
# A webhook secret must decode as base64 (else: a config error, which `check` covers), so
# the App's is printable ASCII: decodable unless its length is wrong.
_ASCII_SECRET = st.builds(
    Secret,
    _MARK,
    _text(
        st.one_of(st.sampled_from(RESERVED), st.characters(min_codepoint=0x20, max_codepoint=0x7E))
    ),
    _MARK,
).filter(lambda secret: "${" not in secret.value)
APP_SECRETS = st.builds(
    Secrets, _SECRET, _ASCII_SECRET, _SECRET, _SECRET, _SECRET, st.booleans()
).filter(lambda secrets: secrets.signable)


class Variant(StrEnum):
    VALID = "valid"
    SINK_KIND_MISSPELT = "sink kind misspelt"
    SINK_KIND_MISSING = "sink kind missing"
    WRONG_TYPE_BESIDE_A_SECRET = "wrong type beside a secret"
    SECRET_IN_A_FILE = "secret in a file, and a misspelt kind"
    URL_WITHOUT_HOST = "camera URL without a host"
    URL_WITH_A_BROKEN_IPV6_HOST = "camera URL with a broken IPv6 host"


# Hypothesis' explain phase re-runs a failure hundreds of times: minutes here, for a hint.
NO_EXPLAIN = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
BAD_VARIANTS = [variant for variant in Variant if variant is not Variant.VALID]


@dataclass(frozen=True)
class Ports:
    camera: int  # nothing listens there: the camera fails
    webhook: int
    mqtt: int
    status: int


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def config_text(secrets: Secrets, variant: Variant, ports: Ports, folder: Path) -> str:
    password = secrets.camera.value
    if secrets.camera_encoded:
        password = quote(password, safe="")
    host = {
        Variant.URL_WITHOUT_HOST: "",
        Variant.URL_WITH_A_BROKEN_IPV6_HOST: "[127.0.0.1",
    }.get(variant, f"127.0.0.1:{ports.camera}")
    webhook_kind = {
        Variant.SINK_KIND_MISSPELT: 'kind = "webhok"\n',
        Variant.SECRET_IN_A_FILE: 'kind = "webhok"\n',
        Variant.SINK_KIND_MISSING: "",
    }.get(variant, 'kind = "webhook"\n')
    if variant is Variant.SECRET_IN_A_FILE:
        (folder / "hook.secret").write_text(secrets.webhook.value + "\n")
        webhook_secret = 'secret_file = "hook.secret"\n'
    else:
        webhook_secret = f"secret = {_toml(secrets.webhook.value)}\n"
    timeout = '"soon"' if variant is Variant.WRONG_TYPE_BESIDE_A_SECRET else "2.0"
    return f"""
[[cameras]]
name = "door"
source = {_toml(f"rtsp://viewer:{password}@{host}/cam0")}
offline_after_s = 0
stall_timeout_s = 0.5
reconnect_initial_s = 0.1
reconnect_max_s = 0.5

[analyzer]
kind = "ailab"
url = "http://127.0.0.1:{ports.camera}/analyze"
api_key = {_toml(secrets.api_key.value)}

[[sinks]]
kind = "jsonl"
path = "{folder / "events.jsonl"}"

[[sinks]]
{webhook_kind}url = "http://127.0.0.1:{ports.webhook}/hook"
{webhook_secret}timeout_s = {timeout}

[[sinks]]
kind = "mqtt"
host = "127.0.0.1"
port = {ports.mqtt}
username = "streamwatch"
password = {_toml(secrets.mqtt.value)}

[outbox]
retry_initial_s = 0.05

[overlay]
web = true
web_port = 0
token = {_toml(secrets.token.value)}

[status]
port = {ports.status}
stop_timeout_s = 0.1
"""


def _closed_ports() -> Ports:
    return Ports(free_port(), free_port(), free_port(), free_port())


def _record_texts(records: Iterable[logging.LogRecord]) -> Iterator[str]:
    for record in records:
        yield record.getMessage()
        yield record.exc_text or ""
        if record.exc_info and record.exc_info[1] is not None:
            yield "".join(traceback.format_exception(record.exc_info[1]))


@pytest.fixture
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@settings(
    max_examples=150,
    deadline=None,
    phases=NO_EXPLAIN,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(secrets=SECRETS, variant=st.sampled_from(list(Variant)))
def test_check_shows_no_secret(
    secrets: Secrets,
    variant: Variant,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    _restore_root_logger: None,
) -> None:
    config = tmp_path / "check.toml"
    config.write_text(config_text(secrets, variant, _closed_ports(), tmp_path))
    status = main(["check", str(config)])
    out, err = capsys.readouterr()
    valid = variant is Variant.VALID and secrets.signable
    assert status == (0 if valid else 2), err
    assert out.startswith(f"{config}: ok") if valid else err.startswith(f"{config}: ")
    assert "Traceback" not in err
    assert not secrets.leaks([out, err])


@settings(
    max_examples=25,
    deadline=None,
    phases=NO_EXPLAIN,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(secrets=APP_SECRETS)
def test_start_up_and_a_failing_camera_show_no_secret(
    secrets: Secrets, tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    folder = tmp_path_factory.mktemp("app")
    texts = asyncio.run(_start_up_and_fail(secrets, folder))
    texts += [*_record_texts(caplog.records), caplog.text]
    assert len(caplog.records) > 5
    assert not secrets.leaks(texts)


async def _start_up_and_fail(secrets: Secrets, folder: Path) -> list[str]:
    """An App whose camera is unreachable: its camera.offline reaches every sink (the webhook
    refuses it once); /healthz and /metrics are read meanwhile. The texts it all showed."""
    async with mosquitto(folder) as broker, webhook_receiver() as receiver:
        receiver.fail_statuses = [503]
        port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
        ports = Ports(free_port(), port, broker.port, free_port())
        settings = parse_settings(config_text(secrets, Variant.VALID, ports, folder))
        texts: list[str] = []
        stop = asyncio.Event()
        async with App(settings, state_dir=folder) as app, app.board.subscribe_events() as events:
            run = asyncio.create_task(app.run(stop))
            async with asyncio.timeout(20):
                async for event in events:
                    texts.append(event.to_json())
                    if event.kind == "camera.offline":
                        break
                counters = app.dispatcher.counters
                await app.dispatcher.wait_until(
                    lambda: all(c.delivered >= 1 for c in counters.values())
                )
            status_url = f"http://127.0.0.1:{ports.status}/"
            async with aiohttp.ClientSession() as session:
                for path in ("healthz", "metrics"):
                    async with session.get(status_url + path) as response:
                        texts.append(await response.text())
            texts += [str(app.readers["door"].stats), str(counters)]
            stop.set()
            await run
    assert any("cannot open stream rtsp://viewer:***@127.0.0.1" in text for text in texts)
    texts += [(folder / "events.jsonl").read_text()]
    texts += [r.body.decode() + json.dumps(r.headers) for r in receiver.attempts]
    return texts


def test_a_reload_of_a_bad_file_shows_no_secret(tmp_path: Path) -> None:
    config = tmp_path / "daemon.toml"
    camera, webhook, mqtt, api_key, token = (
        Secret(f"Zxfirs{n}", RESERVED, "Zxsecret") for n in range(5)
    )
    first = Secrets(camera, webhook, mqtt, api_key, token, camera_encoded=False)
    ports = _closed_ports()
    config.write_text(config_text(first, Variant.VALID, ports, tmp_path))
    with running_daemon(config) as daemon:
        daemon.until("health at ")
        checked = [first]

        @settings(max_examples=40, deadline=None, phases=NO_EXPLAIN)
        @given(secrets=SECRETS, variant=st.sampled_from(BAD_VARIANTS))
        def reload_a_bad_file(secrets: Secrets, variant: Variant) -> None:
            config.write_text(config_text(secrets, variant, ports, tmp_path))
            daemon.sighup()
            lines = daemon.until("configuration not reloaded")
            assert json.loads(lines[-1])["level"] == "error"
            assert not secrets.leaks(lines)
            checked.append(secrets)

        reload_a_bad_file()
        daemon.stop()
    for secrets in checked:  # every line of the daemon's life, for every secret it was shown
        assert not secrets.leaks(daemon.lines)
