"""TOML file → Settings, read strictly, with errors that name the file, the key path and the
fix.

An error names the key and the problem. It shows the value only when that is a plain value
(not a table or a list) of a section without secrets, and not a URL: never anything of
`sinks`, `analyzer`, `overlay` (or any section with a SecretStr field), never a camera's
source. Its text is masked with the secrets of the document all the same (config/secrets.py),
which it carries for the caller to register with the log redaction.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from streamwatch.config.model import Settings
from streamwatch.config.secrets import (
    NO_SECRETS,
    SECRET_SECTIONS,
    URL_KEYS,
    Secrets,
    config_secrets,
)

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """A configuration that cannot be used; the message lists every problem, one per line.

    `secrets`: those of the document, already masked in the message; the caller registers
    them with the log redaction before it logs or prints anything about the error.
    """

    def __init__(self, source: str, problems: list[str], secrets: Secrets = NO_SECRETS) -> None:
        self.source = source
        self.problems = [_printable(secrets.mask(problem)) for problem in problems]
        self.secrets = secrets
        super().__init__("\n".join(f"{source}: {problem}" for problem in self.problems))


def load_settings(path: str | Path) -> Settings:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read the file: {error.strerror}"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            str(path),
            [
                f"not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start}): "
                "TOML files are UTF-8; save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
            ],
        ) from None
    return parse_settings(text, source=str(path), base_dir=path.parent)


def parse_settings(
    text: str, *, source: str = "<config>", base_dir: Path | None = None
) -> Settings:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, [f"not valid TOML: {error}"]) from None
    problems: list[str] = []
    expanded = _expand_env(raw, (), problems)
    base_dir = base_dir or Path.cwd()
    if problems:
        raise ConfigError(source, problems, config_secrets(expanded, base_dir=base_dir))
    try:
        # Strict: TOML has real booleans, integers and floats, so `"yes"` for a boolean, `8080.0`
        # for a port or `"5"` for a number is a mistake to point out, not a value to guess at
        # (an integer is still a float: `stall_timeout_s = 5`).
        return Settings.model_validate(expanded, strict=True, context={"base_dir": base_dir})
    except ValidationError as error:
        secrets = config_secrets(expanded, base_dir=base_dir)
        raise ConfigError(source, [_describe(e) for e in error.errors()], secrets) from None


def _expand_env(value: Any, loc: tuple[str | int, ...], problems: list[str]) -> Any:
    """Replace `${NAME}` in every string by the environment variable NAME."""
    if isinstance(value, dict):
        return {k: _expand_env(v, (*loc, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, (*loc, i), problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            problems.append(
                f"{_dotted(loc)}: environment variable {name} is not set "
                f"(export it, or put the value in a file and use the *_file key)"
            )
            return ""
        return os.environ[name]

    return _ENV_REFERENCE.sub(substitute, value)


def _describe(error: Any) -> str:
    loc: tuple[str | int, ...] = error["loc"]
    model, path, _ = _walk(loc[:-1]) if loc else (Settings, (), [])
    key = loc[-1] if loc else ""
    if error["type"] == "extra_forbidden" and model is not None:
        allowed = sorted(model.model_fields)
        hint = difflib.get_close_matches(str(key), allowed, n=1)
        fix = f"did you mean {hint[0]!r}?" if hint else f"allowed keys: {', '.join(allowed)}"
        return f"{_dotted((*path, key))}: unknown key; {fix}"
    where = _dotted((*path, key)) if loc else "(top level)"
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return _unknown_tag(where, error, _walk(loc)[2])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] not in ("value_error", "missing") and _may_show(loc, error["input"]):
        message += f" (got {error['input']!r})"
    advice = _FIXES.get(error["type"])
    return f"{where}: {message}" + (f"; {advice}" if advice else "")


# What to write instead, for the types a file is read strictly as (parse_settings).
_FIXES = {
    "finite_number": "inf and nan are not allowed: write a number such as 30.0",
    "bool_type": "write true or false, without quotes",
    "int_type": "write a whole number without a decimal point or quotes, e.g. 8080",
    "int_from_float": "write a whole number without a decimal point, e.g. 8080",
    "float_type": "write a number without quotes, e.g. 2.5",
    "string_type": 'write it in quotes, e.g. "…"',
}


def _may_show(loc: tuple[str | int, ...], value: object) -> bool:
    """Whether an error may show the value it is about: a plain value, outside the sections
    with secrets, and no URL (a camera's source holds its password)."""
    if not loc or loc[0] in SECRET_SECTIONS or loc[-1] in URL_KEYS:
        return False
    return isinstance(value, str | int | float | bool) or value is None


def _unknown_tag(where: str, error: Any, candidates: list[type[BaseModel]]) -> str:
    """A sink's `kind` missing or misspelt: the kind, never the rest of its table."""
    tags = [tag for tag in map(_tag, candidates) if tag is not None]
    name = str((error.get("ctx") or {}).get("discriminator", "kind")).strip("'")
    choices = f"use one of {', '.join(tags)}"
    if error["type"] == "union_tag_not_found":
        return f"{where}.{name}: missing; {choices}"
    tag = str(error["ctx"]["tag"])
    hint = difflib.get_close_matches(tag, tags, n=1)
    suggestion = f' (did you mean "{hint[0]}"?)' if hint else ""
    shown = json.dumps(tag, ensure_ascii=False)
    return f"{where}.{name}: unknown {name} {shown}; {choices}{suggestion}"


def _walk(
    loc: tuple[str | int, ...],
) -> tuple[type[BaseModel] | None, tuple[str | int, ...], list[type[BaseModel]]]:
    """The model a location points into (None: one of a union's), the location as a user
    wrote it, and the models it may be.

    pydantic puts the tag of a discriminated union (`kind = "webhook"`) into the location;
    it is not a key of the file, so it is dropped from the path shown to the user.
    """
    model: type[BaseModel] | None = Settings
    path: list[str | int] = []
    candidates: list[type[BaseModel]] = []
    for part in loc:
        if isinstance(part, int):
            path.append(part)
            continue
        tagged = [c for c in candidates if _tag(c) == part]
        if tagged:
            model, candidates = tagged[0], []
            continue
        path.append(part)
        field = model.model_fields.get(part) if model is not None else None
        candidates = _models_in(field.annotation) if field is not None else []
        model = candidates[0] if len(candidates) == 1 else None
    return model, tuple(path), candidates


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _tag(model: type[BaseModel]) -> str | None:
    kind = model.model_fields.get("kind")
    if kind is None:
        return None
    args = typing.get_args(kind.annotation)
    return str(args[0]) if typing.get_origin(kind.annotation) is typing.Literal else None


def _dotted(loc: tuple[str | int, ...]) -> str:
    """The key path as TOML writes it: `sinks[0].kind`, `selection."odd key"`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        key = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        text += f".{key}" if text else key
    return text


def _printable(problem: str) -> str:
    """One line, with nothing a terminal would act on: a file's odd characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in problem)


__all__ = ["ConfigError", "load_settings", "parse_settings"]
