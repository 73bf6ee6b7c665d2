"""What every settings section shares: unknown keys are errors, numbers are finite, and secrets
may be files."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    model_validator,
)


def _tuples_of_arrays(value: Any) -> Any:
    """TOML arrays (lists), nested ones too, as the tuples a strict tuple field takes."""
    if isinstance(value, list):
        return tuple(_tuples_of_arrays(item) for item in value)
    return value


# `Annotated[tuple[…], FromArrays]`: a tuple field that a TOML array fills, its items still strict.
FromArrays = BeforeValidator(_tuples_of_arrays)


class Section(BaseModel):
    # Unknown keys are errors (a misspelt key must never be silently ignored); values are
    # immutable once loaded.
    # No `inf` or `nan` in any float: an infinite back-off or time-out is never meant. (A file
    # is also read strictly, config/loader.py: `"yes"` for a boolean or `8080.0` for a port is
    # refused, not converted. Strict there, not here: pydantic's mypy plugin would type every
    # constructor strictly too, and `api_key="…"` from code is fine.) A tuple field that a
    # TOML array fills is annotated `FromArrays`, so that strict reading takes the array.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SecretFiles(Section):
    """A section whose secrets may also be given as `<name>_file`: a path to read them from.

    That is how systemd credentials (LoadCredential) and Docker secrets hand them over, and it
    keeps secrets out of the config file. A relative path is relative to the config file.
    """

    secret_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: Any, info: ValidationInfo) -> Any:
        if not isinstance(values, dict):
            return values
        values = dict(values)
        base_dir = Path((info.context or {}).get("base_dir", "."))
        for name in cls.secret_fields:
            file_key = f"{name}_file"
            if file_key not in values:
                continue
            if name in values:
                raise ValueError(f"set {name} or {file_key}, not both")
            path = base_dir / str(values.pop(file_key))
            try:
                values[name] = path.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise ValueError(f"{file_key}: cannot read {path}: {error.strerror}") from None
        return values
