"""The events of a replay, read back from its events.jsonl (what a sink got), crops saved."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from streamwatch.events.model import Event

CROPS_DIR = "crops"


@dataclass(frozen=True, slots=True)
class EventRecord:
    kind: str  # "face.new", …
    media_s: float | None  # of the frame it was decided on (None: not a frame's event)
    subject: str | None  # the track id
    analyzer: str | None
    mask: str | None  # the face's mask state in the event
    dwell_s: float | None  # face.left
    crop: str | None  # the crop's file, relative to the report directory


def read_events(
    events_path: Path, report_dir: Path, media_at: Callable[[float], float | None]
) -> list[EventRecord]:
    """Every event in `events_path`, in order; each crop written to report_dir/crops/."""
    if not events_path.exists():
        return []
    records = []
    lines = events_path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        event = Event.from_cloudevent(json.loads(line))
        data = event.data
        timestamp_s = data.get("frame_timestamp_s")
        face = data.get("face") or {}
        records.append(
            EventRecord(
                kind=event.kind,
                media_s=None if timestamp_s is None else media_at(float(timestamp_s)),
                subject=event.subject,
                analyzer=data.get("analyzer"),
                mask=face.get("mask"),
                dwell_s=data.get("dwell_s"),
                crop=_save_crop(data.get("crop_jpeg_base64"), report_dir, number, event.kind),
            )
        )
    return records


def _save_crop(encoded: str | None, report_dir: Path, number: int, kind: str) -> str | None:
    if not encoded:
        return None
    try:
        jpeg = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    relative = f"{CROPS_DIR}/{number:04d}-{kind.replace('.', '-')}.jpg"
    (report_dir / CROPS_DIR).mkdir(parents=True, exist_ok=True)
    (report_dir / relative).write_bytes(jpeg)
    return relative
