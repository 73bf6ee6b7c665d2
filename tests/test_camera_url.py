"""Camera URLs as cameras write them: passwords with raw reserved characters or percent-encoded,
one parser (streamwatch/camera_url.py), errors that say what to quote and never show the URL."""

from __future__ import annotations

import pytest

from streamwatch.camera_url import CameraUrlError, parse_camera_url, redact, url_secrets
from streamwatch.config import ConfigError, parse_settings

RAW_PASSWORDS = [
    "1234/Secret",  # urlsplit: host "viewer", port 1234, no password at all
    "Secret#x",  # urlsplit: the rest is a fragment
    "Sec?ret",  # urlsplit: the rest is a query
    "p@ss@word",  # the LAST '@' ends the user info
    "pa[ss]word",  # urlsplit: ValueError "Invalid IPv6 URL"
    "a:b:c",  # the user name ends at the first ':'
    "100%",  # a '%' that starts no escape is a '%'
    "/#?@[]:% é",  # all of them
]


@pytest.mark.parametrize("password", RAW_PASSWORDS)
def test_a_raw_password_is_found_whole_and_never_shown(password: str) -> None:
    url = parse_camera_url(f"rtsp://viewer:{password}@192.168.1.20:8554/Streaming/101?x=1")
    assert url.password is not None and url.password.value == password
    assert url.address == ("192.168.1.20", 8554)
    assert url.redacted == "rtsp://viewer:***@192.168.1.20:8554/Streaming/101?x=1"
    assert password in url.secrets
    # FFmpeg ends the host part at the first '/', '?' or '#': it gets the user info encoded.
    user_info = url.for_ffmpeg.removeprefix("rtsp://").rsplit("@", 1)[0]
    assert not set(user_info) & set("/?#@[] ")
    reparsed = parse_camera_url(url.for_ffmpeg).password
    assert reparsed is not None and reparsed.value == password


def test_percent_encoded_and_raw_are_the_same_password() -> None:
    encoded = parse_camera_url("rtsp://viewer:p%40ss%2Fw%23rd@cam.local/live")
    raw = parse_camera_url("rtsp://viewer:p@ss/w#rd@cam.local/live")
    assert encoded.password is not None and raw.password is not None
    assert encoded.password.value == raw.password.value == "p@ss/w#rd"
    assert encoded.for_ffmpeg == raw.for_ffmpeg
    assert encoded.address == raw.address == ("cam.local", 554)
    assert {"p%40ss%2Fw%23rd", "p@ss/w#rd"} <= encoded.secrets


def test_hosts_ports_and_credential_parameters() -> None:
    ipv6 = parse_camera_url("rtsps://admin:pw[1]@[fe80::1%25eth0]:322/x")
    assert ipv6.address == ("fe80::1%25eth0", 322)
    assert ipv6.redacted == "rtsps://admin:***@[fe80::1%25eth0]:322/x"
    plain = parse_camera_url("http://cam.local/videostream.cgi?user=admin&pwd=hunter22")
    assert plain.redacted == "http://cam.local/videostream.cgi?user=admin&pwd=***"
    assert "hunter22" in plain.secrets and plain.address == ("cam.local", 80)
    assert parse_camera_url("rtsp://admin@cam.local").redacted == "rtsp://admin@cam.local"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("rtsp://viewer:pa55word@/cam0", "no host name after the last '@'"),
        ("rtsp://viewer:pa55word@[127.0.0.1/cam0", "opens an IPv6 address"),
        ("rtsp://viewer:pa55word@cam.local:99999/cam0", "not a number from 1 to 65535"),
        ("rtsp://viewer:pa55word@cam.local:²/cam0", "not a number from 1 to 65535"),
        ("rtsp://viewer:pa55word@cam.local:" + "9" * 5000, "not a number from 1 to 65535"),
        ("rtsp://cam.local/live@pa55word", "write an '@' of the path or query as %40"),
        ("rtmp://viewer:pa55word@cam.local/live", 'unsupported scheme "rtmp"'),
    ],
)
def test_what_cannot_be_parsed_says_what_to_quote_without_the_password(url: str, says: str) -> None:
    with pytest.raises(CameraUrlError) as caught:
        parse_camera_url(url)
    assert says in str(caught.value) and "pa55word" not in str(caught.value)
    assert "pa55word" not in redact(url)
    if "@/" in url or "@[" in url:  # the password is known even so: logs mask it
        assert "pa55word" in url_secrets(url)


def test_the_config_refuses_a_url_it_cannot_parse_naming_the_camera_key() -> None:
    text = '[[cameras]]\nname = "door"\nsource = "rtsp://viewer:pa55word@[10.0.0.7/cam"\n'
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, source="door.toml")
    message = str(caught.value)
    assert message.startswith("door.toml: cameras[0].source: the host after the last '@' opens")
    assert "pa55word" not in message and "pa55word" in caught.value.secrets.values
