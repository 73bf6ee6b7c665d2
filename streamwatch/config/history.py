"""The event store's settings: `[history]`, what is kept on this machine and for how long."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from streamwatch.config.base import Section


class HistorySettings(Section):
    # Every event, and for alarms the picture and the face, in <state_dir>/history.db, so the
    # pages can show what happened. It holds faces: keep it as short as the site needs.
    enabled: bool = True
    # The oldest go first once any limit is passed (counted in /metrics).
    max_events: Annotated[int, Field(ge=1)] = 10_000
    max_age_days: Annotated[float, Field(gt=0)] = 7.0
    max_mb: Annotated[float, Field(gt=0)] = 200.0
    # For each alarm (overlay.alarm_events): the whole picture and the face, as JPEG
    # (pixelated with overlay.blur_faces).
    snapshots: bool = True
