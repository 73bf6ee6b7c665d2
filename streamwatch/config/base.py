"""What every settings section shares: unknown keys are errors, and secrets may be files."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationInfo,
    model_validator,
)


class Section(BaseModel):
    # Unknown keys are errors (a misspelt key must never be silently ignored); values are
    # immutable once loaded.
    model_config = ConfigDict(extra="forbid", frozen=True)


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
