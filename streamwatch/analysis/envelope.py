"""The public fields around every API answer: parsed for the client, built for the emulator.

The service documents two shapes of error (shared/api/face-analyzer-advanced.md, "Public fields
and errors"): the older `error_code` / `error_code_str` / `error_msg`, and the newer
`error_detail {status_code, code, code_message, message}`, which may come alone. Both parse
into one `Envelope`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

NO_ERROR = "NO_ERROR"
_DECIMAL = re.compile(r"-?[0-9]{1,18}")
_MAX_TEXT = 1000
_KNOWN_FIELDS = frozenset(
    {"request_id", "log_id", "error_code", "error_code_str", "error_msg", "error_detail", "data"}
)


class EnvelopeFormatError(ValueError):
    """The body is not JSON, or not an object with public fields of the documented types."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """One answer's public fields. `error_code` is 0 on success, else the HTTP status."""

    request_id: str | None
    log_id: str | None
    error_code: int
    code: str | None  # symbolic, e.g. "ERROR_NO_FACE_IN_FILE"; may be absent
    message: str
    data: Mapping[str, Any] | None
    # Top-level fields this version does not know, kept as received.
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def succeeded(self) -> bool:
        return self.error_code == 0 and self.data is not None


@dataclass(frozen=True, slots=True)
class ApiError:
    """A documented error: its HTTP status and symbolic code."""

    http_status: int
    code: str
    message: str


ERROR_PARAMETERS = ApiError(400, "ERROR_PARAMETERS", "Parameter error.")
MISSING_PARAMETERS = ApiError(400, "MISSING_PARAMETERS", "Missing parameters.")
ERROR_INVALID_PARAMETER = ApiError(400, "ERROR_INVALID_PARAMETER", "Invalid parameter.")
PARAMETERS_CANNOT_EMPTY = ApiError(400, "PARAMETERS_CANNOT_EMPTY", "Parameters cannot be empty.")
ERROR_USER_NOT_EXISTS = ApiError(401, "ERROR_USER_NOT_EXISTS", "The user does not exist.")
ERROR_APPLICATIONS_NOT_EXISTS = ApiError(
    401, "ERROR_APPLICATIONS_NOT_EXISTS", "The application does not exist."
)
ERROR_USER_LOCKED = ApiError(403, "ERROR_USER_LOCKED", "The account is locked.")
ERROR_AI_NOT_EXISTS = ApiError(404, "ERROR_AI_NOT_EXISTS", "The API does not exist.")
ERROR_NO_FACE_IN_FILE = ApiError(422, "ERROR_NO_FACE_IN_FILE", "There is no face in the image.")
ERROR_NOT_ENOUGH_CREDITS = ApiError(429, "ERROR_NOT_ENOUGH_CREDITS", "Not enough credits.")
PROCESSING_FAILURE = ApiError(500, "PROCESSING_FAILURE", "Processing failure.")

EnvelopeShape = Literal["legacy", "detail", "both"]


def decode_envelope(body: bytes) -> Envelope:
    """Parse a response body. EnvelopeFormatError when it is not a JSON object."""
    try:
        value = json.loads(body)
    # JSONDecodeError and UnicodeDecodeError are ValueErrors, and so is an integer of more
    # digits than Python converts; RecursionError is nesting deeper than the parser goes.
    except (ValueError, RecursionError) as error:
        raise EnvelopeFormatError(f"body is not JSON: {_short(str(error))}") from None
    return parse_envelope(value)


def parse_envelope(value: object) -> Envelope:
    """Read the public fields of a decoded body, in either documented shape."""
    if not isinstance(value, Mapping):
        raise EnvelopeFormatError(f"body is a JSON {type(value).__name__}, not an object")
    detail = value.get("error_detail")
    if detail is not None and not isinstance(detail, Mapping):
        raise EnvelopeFormatError("error_detail is not an object")
    detail = detail or {}

    error_code = _optional_int(value, "error_code")
    if error_code is None:
        status = _optional_int(detail, "error_detail.status_code", key="status_code")
        # The newer shape carries the HTTP status even on success.
        error_code = 0 if status is None or status == 200 else status
    code = _optional_str(value, "error_code_str") or _optional_str(
        detail, "error_detail.code", key="code"
    )
    message = (
        _optional_str(value, "error_msg")
        or _optional_str(detail, "error_detail.message", key="message")
        or _optional_str(detail, "error_detail.code_message", key="code_message")
        or ""
    )
    data = value.get("data")
    if data is not None and not isinstance(data, Mapping):
        raise EnvelopeFormatError(f"data is a JSON {type(data).__name__}, not an object")
    return Envelope(
        request_id=_optional_str(value, "request_id"),
        log_id=_optional_str(value, "log_id"),
        error_code=error_code,
        code=code or None,
        message=message,
        data=data,
        extra=MappingProxyType({k: v for k, v in value.items() if k not in _KNOWN_FIELDS}),
    )


def new_ids() -> tuple[str, str]:
    """A fresh (request_id, log_id) pair, as the emulator stamps on every answer."""
    return str(uuid.uuid4()), uuid.uuid4().hex.upper()


def success_envelope(data: Mapping[str, Any], *, request_id: str, log_id: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "log_id": log_id,
        "error_code": 0,
        "error_code_str": NO_ERROR,
        "error_msg": "",
        "data": dict(data),
    }


def error_envelope(
    error: ApiError,
    *,
    request_id: str,
    log_id: str,
    message: str | None = None,
    shape: EnvelopeShape = "both",
) -> dict[str, Any]:
    """An error answer in the older shape, the newer one, or both at once (the default)."""
    text = message or error.message
    envelope: dict[str, Any] = {"request_id": request_id, "log_id": log_id}
    if shape in ("legacy", "both"):
        envelope |= {
            "error_code": error.http_status,
            "error_code_str": error.code,
            "error_msg": text,
        }
    if shape in ("detail", "both"):
        envelope["error_detail"] = {
            "status_code": error.http_status,
            "code": error.code,
            "code_message": error.message,
            "message": text,
        }
    return envelope


def _optional_int(source: Mapping[str, Any], name: str, *, key: str | None = None) -> int | None:
    value = source.get(key or name)
    if value is None:
        return None
    # Some gateways send numbers as strings; accept those (ASCII digits), refuse anything else.
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise EnvelopeFormatError(f"{name} is {_show(value)}, not an integer")
    return value


def _optional_str(source: Mapping[str, Any], name: str, *, key: str | None = None) -> str | None:
    value = source.get(key or name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EnvelopeFormatError(f"{name} is {_show(value)}, not a string")
    # repr is str for numbers, and does not fail on an int of more digits than str allows.
    return value if isinstance(value, str) else _show(value, limit=_MAX_TEXT)


def _show(value: Any, limit: int = 60) -> str:
    """A short repr for a message, whatever the value (huge, nested, an unprintable int)."""
    try:
        text = repr(value)
    except ValueError:  # an int of more digits than Python prints
        text = f"<{type(value).__name__}>"
    return _short(text, limit)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
