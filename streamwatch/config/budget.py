"""The call budget's settings: `[budget]`, how many cloud calls, when, and shared with whom."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from streamwatch.config.base import SecretFiles


class BudgetSettings(SecretFiles):
    secret_fields = ("redis_url",)

    # At most `max_calls` cloud analyses per `period_s`, across all cameras (across every box of
    # the account with `redis_url`). The cloud API's provider rejects more than about 2 calls/s.
    # The local analyzer spends none of it: its workers ration it (analyzer.local_workers).
    max_calls: Annotated[int, Field(ge=1)] = 2
    period_s: Annotated[float, Field(gt=0)] = 1.0
    # At most one call per camera per camera_interval_s.
    camera_interval_s: Annotated[float, Field(ge=0)] = 0.5
    # Calls per day (in `timezone`) over all cameras; unset = no daily limit.
    daily_max_calls: Annotated[int, Field(ge=1)] | None = None
    # The time zone whose midnight starts a new day of calls (an IANA name).
    timezone: str = "UTC"
    # Calls in flight at once over all cameras.
    max_concurrent: Annotated[int, Field(ge=1)] = 4
    # A candidate frame older than this is dropped, never sent late.
    max_age_s: Annotated[float, Field(gt=0)] = 2.0
    # Of every period's max_calls, this many are kept for a new face's first call and a mask
    # change: `better`, `undecided` and `refresh` calls go only while more are left. Unset:
    # half of max_calls, rounded down.
    reserved_calls: Annotated[int, Field(ge=0)] | None = None
    # One budget for a fleet of boxes on one account (budget/shared.py): a Redis server
    # (redis://[:password@]host:6379/0, or redis_url_file) and the account's name there.
    redis_url: SecretStr | None = None
    account: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "default"
    # While Redis cannot be reached, this box takes this share of the account's rate and of
    # what was left of its day. Unset: 1 / the account's boxes Redis last counted.
    local_share: Annotated[float, Field(gt=0, le=1)] | None = None
    # The shared rate is kept over period_s + rate_margin_s: a request admitted on time but
    # sent a little late (a busy box, a slow upload) still reaches the provider within its
    # limit.
    rate_margin_s: Annotated[float, Field(ge=0, le=10)] = 0.1

    @property
    def reserve(self) -> int:
        """Calls of each period that only high-priority calls may take."""
        if self.reserved_calls is None:
            return self.max_calls // 2
        return self.reserved_calls

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f'unknown time zone {name!r}; use an IANA name such as "Europe/Paris" or "UTC"'
            ) from None
        return name

    @model_validator(mode="after")
    def _reserve_below_rate(self) -> BudgetSettings:
        if self.reserved_calls is not None and self.reserved_calls >= self.max_calls:
            raise ValueError(
                f"reserved_calls ({self.reserved_calls}) must be below max_calls "
                f"({self.max_calls}), or no routine call could ever be made"
            )
        return self

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not url.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            # Never the URL itself: it may hold a password.
            raise ValueError("redis_url must start with redis://, rediss:// or unix://")
        return url
