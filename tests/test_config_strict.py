"""The config is read strictly: finite numbers, real booleans, integers as integers, with an
error that names the key and what to write instead; the status server is under the live view's
rule (loopback, or a token). On main before this work each of these was accepted."""

from __future__ import annotations

import pytest

from streamwatch.config import ConfigError, parse_settings

CAMERA = '[[cameras]]\nname = "door"\nsource = "demo"\n'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            CAMERA + "reconnect_initial_s = inf\n",
            "cameras[0].reconnect_initial_s: Input should be a finite number (got inf); inf and "
            "nan are not allowed: write a number such as 30.0",
        ),
        (
            "[selection]\nwindow_s = nan\n",
            "selection.window_s: Input should be a finite number (got nan); inf and nan are not "
            "allowed: write a number such as 30.0",
        ),
        (
            "[outbox]\nretry_max_s = -inf\n",
            "outbox.retry_max_s: Input should be a finite number (got -inf); inf and nan are not "
            "allowed: write a number such as 30.0",
        ),
        (
            CAMERA + 'loop = "yes"\n',
            "cameras[0].loop: Input should be a valid boolean (got 'yes'); write true or false, "
            "without quotes",
        ),
        # A section with a secret (overlay, status: their token; budget: redis_url) never shows
        # a value of its own.
        (
            "[budget]\nperiod_s = nan\n",
            "budget.period_s: Input should be a finite number; inf and nan are not allowed: "
            "write a number such as 30.0",
        ),
        (
            '[overlay]\nweb = "off"\n',
            "overlay.web: Input should be a valid boolean; write true or false, without quotes",
        ),
        (
            "[status]\nport = 8080.0\n",
            "status.port: Input should be a valid integer; write a whole number without a "
            "decimal point or quotes, e.g. 8080",
        ),
        (
            '[overlay]\nweb_port = "8080"\n',
            "overlay.web_port: Input should be a valid integer; write a whole number without a "
            "decimal point or quotes, e.g. 8080",
        ),
    ],
)
def test_a_value_of_the_wrong_kind_names_the_key_and_the_fix(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, source="x.toml")
    assert caught.value.problems == [problem]


def test_integers_are_still_numbers_and_arrays_still_fill_tuples() -> None:
    settings = parse_settings(
        CAMERA + "stall_timeout_s = 5\n[cameras.rules]\nzone = [[0, 0], [640, 0], [640, 480]]\n"
        'events = ["face.new", "streamwatch.camera.offline"]\n'
    )
    camera = settings.cameras[0]
    assert camera.stall_timeout_s == 5.0
    assert camera.rules.zone == ((0.0, 0.0), (640.0, 0.0), (640.0, 480.0))
    assert [str(kind) for kind in camera.rules.events] == ["face.new", "camera.offline"]


def test_a_status_server_off_loopback_needs_a_token() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings('[status]\nhost = "0.0.0.0"\n', source="x.toml")
    assert caught.value.problems == [
        'status: host = "0.0.0.0" is reachable from other machines: set token (or token_file) '
        'too, or bind to "127.0.0.1"'
    ]
    with pytest.raises(ConfigError, match=r"status\.token: .*at least 16 characters"):
        parse_settings('[status]\nhost = "0.0.0.0"\ntoken = "short"\n')
    settings = parse_settings('[status]\nhost = "0.0.0.0"\ntoken = "0123456789abcdef"\n')
    assert settings.status.token is not None
    # Not served at all: no token needed.
    assert parse_settings('[status]\nenabled = false\nhost = "0.0.0.0"\n').status.token is None
