"""What is secret in a configuration, found by one function, and the masking of it.

Secret are: every `SecretStr` field the settings declare (analyzer.api_key, a webhook's
secret, an MQTT password, overlay.token — a field is secret by its type alone), what their
`<name>_file` holds, and the credentials inside URLs (a camera source's password, whatever
characters it holds, and credential query parameters; those of the sinks' and the analyzer's
url too: streamwatch/camera_url.py). Each counts in every form it may be shown in: as
written, decoded, percent-encoded, and escaped the way repr() and JSON escape it.

`config_secrets` collects them from loaded `Settings`, and from the raw TOML of a file that
failed to validate, which no running part knows yet. `ConfigError` masks its message with
them, and the command line registers them with the log redaction (app/logs.py) before it
prints or logs a line: `check`, `run`'s start, a SIGHUP's reload, good or bad.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from streamwatch.camera_url import MASK, url_secrets
from streamwatch.config.model import Settings

# Shorter values are left alone: masking every "abc" would garble the log, and a camera
# URL's password is masked by its place in the URL, whatever its length.
MIN_SECRET_CHARS = 4
URL_KEYS = frozenset({"source", "url"})
# A secret file is a key or a password: this is plenty, and a mistaken path to a big file
# costs nothing.
MAX_SECRET_FILE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Secrets:
    """Texts never to be shown, longest first (a secret holding another is masked whole)."""

    values: tuple[str, ...] = ()

    @classmethod
    def of(cls, secrets: Iterable[str]) -> Secrets:
        """These secrets, in every form they may be shown in."""
        return cls._sorted(form for secret in secrets for form in _shown_forms(secret))

    @classmethod
    def _sorted(cls, values: Iterable[str]) -> Secrets:
        kept = {value for value in values if len(value) >= MIN_SECRET_CHARS}
        return cls(tuple(sorted(kept, key=lambda value: (-len(value), value))))

    def __or__(self, other: Secrets) -> Secrets:
        return Secrets._sorted((*self.values, *other.values))

    def mask(self, text: str) -> str:
        for secret in self.values:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


NO_SECRETS = Secrets()


def config_secrets(
    config: BaseModel | Mapping[str, Any], *, base_dir: Path | None = None
) -> Secrets:
    """Every secret of loaded settings, or of a raw (env-expanded) TOML document."""
    found: list[str] = []
    if isinstance(config, BaseModel):
        _from_model(config, found)
    else:
        _from_raw(config, base_dir or Path.cwd(), found)
    return Secrets.of(found)


def _from_model(model: BaseModel, found: list[str]) -> None:
    for name, value in model:
        _from_model_value(name, value, found)


def _from_model_value(name: str, value: object, found: list[str]) -> None:
    if isinstance(value, SecretStr):
        found.append(value.get_secret_value())
    elif isinstance(value, str) and name in URL_KEYS:
        found += url_secrets(value)
    elif isinstance(value, BaseModel):
        _from_model(value, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _from_model_value(name, item, found)


def _from_raw(value: object, base_dir: Path, found: list[str]) -> None:
    """By key name, anywhere in the document: a key in the wrong table is still a secret."""
    if isinstance(value, list):
        for item in value:
            _from_raw(item, base_dir, found)
    if not isinstance(value, Mapping):
        return
    for key, item in value.items():
        if key in SECRET_KEYS:  # whatever it holds, even if not a string: it is refused
            found += _leaves(item)
        elif key.endswith("_file") and key.removesuffix("_file") in SECRET_KEYS:
            found += [text for path in _leaves(item) for text in _file_secret(base_dir / path)]
        elif key in URL_KEYS and isinstance(item, str):
            found += url_secrets(item)
        else:
            _from_raw(item, base_dir, found)


def _leaves(value: object) -> list[str]:
    """The texts and numbers in a value, as text."""
    if isinstance(value, Mapping):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [] if isinstance(value, bool) else [str(value)]


def _file_secret(path: Path) -> list[str]:
    """What a `<name>_file` holds, as the settings read it (stripped); nothing if unreadable."""
    try:
        if not path.is_file():  # not a FIFO or a device that would block
            return []
        with path.open("rb") as file:
            data = file.read(MAX_SECRET_FILE_BYTES)
    except OSError:
        return []
    return [data.decode("utf-8", errors="replace").strip()]


def _shown_forms(secret: str) -> set[str]:
    """The secret, and how repr() and JSON would write it (escaped quotes, backslashes)."""
    return {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }


def _secret_keys(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    """The names of the SecretStr fields of a model and of the models within it."""
    seen.add(model)
    names: set[str] = set()
    for name, field in model.model_fields.items():
        types = _types_in(field.annotation)
        if SecretStr in types:
            names.add(name)
        for inner in types:
            if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in seen:
                names |= _secret_keys(inner, seen)
    return names


def _types_in(annotation: object) -> list[object]:
    return [annotation, *(t for arg in typing.get_args(annotation) for t in _types_in(arg))]


# The keys that hold a secret, and the sections of the file with one anywhere inside
# (sinks, analyzer, overlay, …): no error message shows a value of theirs.
SECRET_KEYS = frozenset(_secret_keys(Settings, set()))
SECRET_SECTIONS = frozenset(
    name
    for name, field in Settings.model_fields.items()
    if any(
        _secret_keys(model, set())
        for model in _types_in(field.annotation)
        if isinstance(model, type) and issubclass(model, BaseModel)
    )
)
