"""TOML file → Settings, read strictly, with errors that name the file, the key path and the
fix."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from streamwatch.config.model import Settings

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """A configuration that cannot be used; the message lists every problem, one per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


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
    if problems:
        raise ConfigError(source, problems)
    try:
        # Strict: TOML has real booleans, integers and floats, so `"yes"` for a boolean, `8080.0`
        # for a port or `"5"` for a number is a mistake to point out, not a value to guess at
        # (an integer is still a float: `stall_timeout_s = 5`).
        return Settings.model_validate(
            expanded, strict=True, context={"base_dir": base_dir or Path.cwd()}
        )
    except ValidationError as error:
        raise ConfigError(source, [_describe(e) for e in error.errors()]) from None


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
    model, path = _walk(loc[:-1]) if loc else (Settings, ())
    key = loc[-1] if loc else ""
    if error["type"] == "extra_forbidden" and model is not None:
        allowed = sorted(model.model_fields)
        hint = difflib.get_close_matches(str(key), allowed, n=1)
        fix = f"did you mean {hint[0]!r}?" if hint else f"allowed keys: {', '.join(allowed)}"
        return f"{_dotted((*path, key))}: unknown key; {fix}"
    where = _dotted((*path, key)) if loc else "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] not in ("value_error", "missing"):
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


def _walk(loc: tuple[str | int, ...]) -> tuple[type[BaseModel] | None, tuple[str | int, ...]]:
    """The model a location points into, and the location as a user wrote it.

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
    return model, tuple(path)


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
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


__all__ = ["ConfigError", "load_settings", "parse_settings"]
