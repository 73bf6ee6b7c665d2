"""Stream URLs as cameras really write them, parsed by one function.

`scheme://[user[:password]@]host[:port][/path][?query][#fragment]`, where the scheme is one
of rtsp, rtsps, http and https. Camera passwords often hold characters a URL reserves
(`/ # ? @ [ ] : %`), and cameras' own apps show them raw; a standard URL parser then finds a
different host, no password at all, or raises on a `[`. So here:

- the user info runs to the LAST `@` of the URL: the password may hold any character, raw
  (an `@` in the path or query must then be written `%40`);
- the user name runs to the first `:` of the user info, the password is the rest;
- a `%` and two hex digits is an escape: a part in which every `%` starts one is decoded
  (percent-encoded, as RFC 3986 wants), otherwise it is taken as written (write a `%` of a
  password as `%25` to leave no doubt).

Whatever shows a camera URL — logs, source descriptions, `last_error`, events, /healthz,
`streamwatch check` — shows `CameraUrl.redacted`: no password, no credential in the query.
FFmpeg gets `CameraUrl.for_ffmpeg`, the user info percent-encoded: FFmpeg ends the host part
at the first `/`, `?` or `#` and decodes the user info itself. What it cannot parse is a
`CameraUrlError` that says what to quote, and never quotes the URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
MASK = "***"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# Anything but what ends or splits a host part, and white space (IDN names are fine).
_HOST_NAME = re.compile(r"[^\s/?#@\[\]:]+")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+(?:%[^\]\s]+)?\]")
# Query parameters that carry a credential (Foscam's `pwd`, tokens of HTTP streams).
CREDENTIAL_PARAMETERS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "auth",
        "key",
        "pass",
        "passwd",
        "password",
        "pwd",
        "secret",
        "sig",
        "signature",
        "token",
    }
)


class CameraUrlError(ValueError):
    """A stream URL that cannot be parsed; the message says what to quote, never the URL."""


@dataclass(frozen=True, slots=True)
class _Part:
    """A part of the URL as written, and what it means (decoded)."""

    written: str
    value: str


@dataclass(frozen=True, slots=True)
class CameraUrl:
    scheme: str  # as written (rtsp, RTSP, …)
    username: _Part | None
    password: _Part | None
    host: str  # as written; an IPv6 address in its brackets
    port: int | None
    path: str  # path, query and fragment as written ("/cam0?subtype=1")

    @property
    def address(self) -> tuple[str, int]:
        """Where to connect: the host (no brackets) and the port (the scheme's by default)."""
        return self.host.strip("[]"), self.port or DEFAULT_PORTS[self.scheme.lower()]

    @property
    def redacted(self) -> str:
        """The URL to show: the password and credential query parameters are `***`."""
        return self._join(self._userinfo(MASK), _masked_query(self.path)[0])

    @property
    def for_ffmpeg(self) -> str:
        """The URL to open: the user info percent-encoded, the rest as written."""
        user = "" if self.username is None else quote(self.username.value, safe="")
        password = None if self.password is None else quote(self.password.value, safe="")
        return self._join(self._userinfo_of(user, password), self.path)

    @property
    def secrets(self) -> frozenset[str]:
        """Every text that would give a credential away: as written, decoded, encoded."""
        found: set[str] = set()
        if self.password is not None:
            found |= _forms(self.password)
        for value in _masked_query(self.path)[1]:
            found |= _forms(value)
        return frozenset(value for value in found if value)

    def _userinfo(self, password: str) -> str:
        user = "" if self.username is None else self.username.written
        return self._userinfo_of(user, None if self.password is None else password)

    def _userinfo_of(self, user: str, password: str | None) -> str:
        if self.username is None and self.password is None:
            return ""
        return f"{user}:{password}@" if password is not None else f"{user}@"

    def _join(self, userinfo: str, path: str) -> str:
        port = "" if self.port is None else f":{self.port}"
        return f"{self.scheme}://{userinfo}{self.host}{port}{path}"


def is_stream_url(source: str) -> bool:
    """Whether a camera's source is meant as a URL (anything else is a device or a file)."""
    return "://" in source


def parse_camera_url(text: str) -> CameraUrl:
    """The parts of a stream URL; CameraUrlError (saying what to quote) when it has none."""
    scheme, separator, rest = text.strip().partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        raise CameraUrlError("a stream URL starts with rtsp://, rtsps://, http:// or https://")
    if scheme.lower() not in DEFAULT_PORTS:
        raise CameraUrlError(
            f'unsupported scheme "{scheme}"; a stream URL starts with rtsp://, rtsps://, '
            "http:// or https://"
        )
    userinfo, at, after = rest.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        if any(c in user for c in "/?#"):
            raise CameraUrlError(
                "the text before its last '@' has a '/', '?' or '#' before any ':': write an "
                "'@' of the path or query as %40 (and a '/', '?' or '#' of a user name as "
                "%2F, %3F, %23)"
            )
        username = _part(user)
        password = _part(secret) if colon else None
    host, port, path = _host_port(after, has_userinfo=bool(at))
    return CameraUrl(scheme, username, password, host, port, path)


def checked_source(source: str) -> str:
    """A camera source as a config accepts it (the settings' validator): a URL that cannot be
    parsed is a CameraUrlError (a ValueError: a config error saying what to quote), never a
    failure at run time; anything else is a device or a file."""
    if is_stream_url(source):
        parse_camera_url(source)
    return source


def redact(source: str) -> str:
    """A camera source as it may be shown: a URL redacted, anything else as it is."""
    if not is_stream_url(source):
        return source
    try:
        return parse_camera_url(source).redacted
    except CameraUrlError:
        scheme = source.strip().partition("://")[0]
        shown = scheme if _SCHEME.fullmatch(scheme) else "?"
        return f"{shown}://{MASK} (not a URL streamwatch can parse)"


def url_secrets(text: str) -> frozenset[str]:
    """The credentials in a URL, also when it cannot be parsed (the error about it, or a
    line a reader logs, must not give them away either)."""
    try:
        return parse_camera_url(text).secrets
    except CameraUrlError:
        pass
    rest = text.strip().partition("://")[2]
    userinfo, at, _ = rest.rpartition("@")
    _, colon, secret = userinfo.partition(":")
    if not (at and colon and secret):
        return frozenset()
    return frozenset(_forms(_part(secret)))


def _host_port(after: str, *, has_userinfo: bool) -> tuple[str, int | None, str]:
    where = "after the last '@'" if has_userinfo else "after ://"
    end = min((i for i in (after.find(c) for c in "/?#") if i >= 0), default=len(after))
    host_port, path = after[:end], after[end:]
    if host_port.startswith("["):
        close = host_port.find("]") + 1
        host, port_text = host_port[:close], host_port[close:]
        if not close or not _IPV6.fullmatch(host) or port_text[:1] not in ("", ":"):
            raise CameraUrlError(
                f"the host {where} opens an IPv6 address with '[' but is not one (write it "
                "as [::1]:554); a '[' or ']' of a password is fine raw, before the last '@'"
            )
    else:
        host, colon, port = host_port.partition(":")
        port_text = colon + port
        if not _HOST_NAME.fullmatch(host):
            raise CameraUrlError(
                f"no host name {where}: a password's '@', '/', '?', '#', ':' or '[' are fine "
                "raw, as long as the user info ends with the last '@' of the URL, right before "
                "the host; or percent-encode them (%40, %2F, %3F, %23, %3A, %5B)"
            )
    return host, _port(port_text, where), path


def _port(text: str, where: str) -> int | None:
    digits = text.removeprefix(":")
    if not digits:
        return None
    # ASCII digits only ("²".isdigit()), and few of them (int() refuses 4300 and more).
    ascii_digits = digits.isascii() and digits.isdigit() and len(digits) <= 5
    if not ascii_digits or not 0 < int(digits) < 65536:
        raise CameraUrlError(
            f"the port {where} is not a number from 1 to 65535 (a ':' of a password is fine "
            "raw, as long as the user info ends with an '@' right before the host)"
        )
    return int(digits)


def _part(written: str) -> _Part:
    """Decoded when every `%` in it starts an escape (and the bytes are UTF-8), else as is."""
    if "%" not in written or written.count("%") != len(_ESCAPE.findall(written)):
        return _Part(written, written)
    try:
        return _Part(written, unquote_to_bytes(written).decode("utf-8"))
    except UnicodeDecodeError:
        return _Part(written, written)


def _forms(part: _Part) -> set[str]:
    return {part.written, part.value, quote(part.value, safe="")}


def _masked_query(path: str) -> tuple[str, list[_Part]]:
    """The path with credential query parameters' values masked, and those values."""
    before, question, after = path.partition("?")
    if not question:
        return path, []
    query, hash_mark, fragment = after.partition("#")
    found: list[_Part] = []
    pairs = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        if equals and value and name.lower() in CREDENTIAL_PARAMETERS:
            found.append(_part(value))
            pair = f"{name}={MASK}"
        pairs.append(pair)
    return f"{before}?{'&'.join(pairs)}{hash_mark}{fragment}", found
