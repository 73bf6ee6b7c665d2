"""Fuzz of the config loader: generated TOML documents — the real sections and keys, and others,
with values of every TOML type (strings with URLs, reserved characters and ${…} references,
huge and non-finite numbers, dates, arrays, tables) and now and then cut or garbled text. Every
outcome is a loaded Settings (whose secrets and camera URLs can be read) or one clean
ConfigError: each line names the file, none shows a secret of the document; never another
exception."""

from __future__ import annotations

import json
import math
import os
import re
import typing
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from streamwatch.camera_url import redact
from streamwatch.config import ConfigError, Settings, load_settings
from streamwatch.config.secrets import SECRET_KEYS, config_secrets

# A longer run: STREAMWATCH_FUZZ_CASES=20000 pytest tests/test_config_fuzz.py
FUZZ_CASES = int(os.environ.get("STREAMWATCH_FUZZ_CASES", "1000"))
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

TomlValue = str | int | float | bool | datetime | date | time | list[Any] | dict[str, Any]


def _fields(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _section_models() -> dict[str, list[type[BaseModel]]]:
    """Each top-level key of Settings and the models its tables may be."""
    sections = {}
    for name, field in Settings.model_fields.items():
        found: list[type[BaseModel]] = []
        todo = [field.annotation]
        while todo:
            annotation = todo.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                found.append(annotation)
            todo += typing.get_args(annotation)
        sections[name] = found
    return sections


SECTIONS = _section_models()
_RESERVED = "/#?@[]:%$"
_MINUS_0930 = timezone(timedelta(hours=-9, minutes=-30))  # TOML's offsets are whole minutes
_WORDS = [
    "demo", "usb:0", "/dev/video0", "-", "127.0.0.1", "0.0.0.0", "localhost", "webhook",
    "jsonl", "mqtt", "webhok", "local", "ailab", "tcp", "udp", "face.new", "camera.*",
    "${HOME}", "${STREAMWATCH_FUZZ_UNSET}", "whsec_c2VjcmV0", "x" * 300,
]  # fmt: skip
_urls = st.builds(
    "{}://{}{}{}{}".format,
    st.sampled_from(["rtsp", "rtsps", "http", "https", "rtmp", "RTSP", "a b"]),
    st.sampled_from(["", "viewer:", "viewer:pa55word-fuzz", ":", "u"]),
    st.lists(st.sampled_from([*_RESERVED, "a", "1"]), max_size=6).map("".join),
    st.sampled_from(["@127.0.0.1", "@[::1]", "@[::1", "@", "@host:99999", "@h:²", "127.0.0.1"]),
    st.sampled_from(["", "/cam0", ":554/x?pwd=hunter22", "/p@th", ":0", ":" + "9" * 5000]),
)
_scalars: st.SearchStrategy[TomlValue] = st.one_of(
    st.sampled_from(_WORDS),
    _urls,
    st.text(max_size=20),
    st.integers(-5, 100),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 10),
    st.booleans(),
    # TOML's offsets are whole minutes.
    st.datetimes(
        timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=-9, minutes=-30))])
    ),
    st.dates(),
    st.times(),
)
_values: st.SearchStrategy[TomlValue] = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def _table(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """A table of the model's own keys (and now and then another), with any values."""
    keys = st.sampled_from(_fields(model)) | st.sampled_from(["kind", "secret_file", "sorce"])
    return st.dictionaries(keys, _values, max_size=6)


def _section(name: str) -> st.SearchStrategy[TomlValue]:
    models = SECTIONS[name]
    if not models:
        return _values
    tables = st.one_of(*(_table(model) for model in models))
    if name in ("cameras", "sinks"):
        return st.lists(tables, max_size=3) | _values
    return tables | _values


DOCUMENTS: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={name: _section(name) for name in SECTIONS} | {"extra": _values},
)


def toml(document: dict[str, Any]) -> str:
    """The document as TOML: keys at the top, every table inline."""
    return "".join(f"{_key(key)} = {_toml_value(value)}\n" for key, value in document.items())


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    """A TOML basic string: JSON's, but not ASCII-only (TOML refuses escaped surrogates) and
    with DEL escaped (TOML refuses it raw)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


@st.composite
def config_texts(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    document = draw(DOCUMENTS)
    text = toml(document)
    if draw(st.integers(0, 9)) == 0:  # one in ten: cut, or a character changed
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["", "[", '"', "=", "\n[[x]]\n", "\x00"]))
    return text, document


def _secret_values(value: Any, key: str = "") -> list[str]:
    """What the document holds under a secret key, at least 4 characters long."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _secret_values(v, key or k)]
    if isinstance(value, list):
        return [s for item in value for s in _secret_values(item, key)]
    shown = str(value)
    return [shown] if key in SECRET_KEYS and not isinstance(value, bool) and len(shown) >= 4 else []


@settings(
    max_examples=FUZZ_CASES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=config_texts())
def test_a_config_loads_or_is_one_clean_error(
    case: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    text, document = case
    path = tmp_path / "fuzz.toml"
    path.write_text(text, encoding="utf-8")
    try:
        loaded = load_settings(path)
    except ConfigError as error:
        event("ConfigError" if "not valid TOML" not in str(error) else "ConfigError: TOML")
        lines = str(error).splitlines()
        assert lines and all(line.startswith(f"{path}: ") for line in lines), str(error)
        for secret in _secret_values(document):
            assert secret in str(path) or secret not in str(error)
        return
    event("loaded")
    config_secrets(loaded)
    for camera in loaded.cameras:
        redact(camera.source)
