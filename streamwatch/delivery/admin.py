"""What `streamwatch outbox` shows: the events still to deliver, per sink, and the dead letters."""

from __future__ import annotations

from collections.abc import Callable

from streamwatch.config.model import Settings
from streamwatch.delivery.outbox import Outbox
from streamwatch.delivery.sinks import type_filter
from streamwatch.events.model import Event

SHOWN_PER_SINK = 20


def describe(outbox: Outbox, settings: Settings) -> str:
    filters = {sink.sink_name: type_filter(sink.event_types) for sink in settings.sinks}
    running = outbox.sinks()
    dead = outbox.dead_letters()
    lines = [
        f"outbox {outbox.path}: {outbox.held()} events held (at most {outbox.max_events}); "
        f"dropped because it was full: {outbox.counter('dropped_full')} events, "
        f"{outbox.counter('dropped_dead_full')} dead letters",
        f"{'sink':<40} {'pending':>8} {'dead letters':>13}",
    ]
    for name in sorted(set(running) | set(filters)):
        count = str(outbox.pending_count(name, filters.get(name))) if name in running else "-"
        note = ""
        if name not in running:
            note = "  (configured; streamwatch has not run with it yet)"
        elif name not in filters:
            note = "  (no longer configured)"
        dead_count = sum(1 for letter in dead if letter.sink == name)
        lines.append(f"{name:<40} {count:>8} {dead_count:>13}{note}")
    for name in running:
        lines += _pending_lines(outbox, name, filters.get(name))
    if dead:
        lines.append("dead letters (`streamwatch outbox retry N` or `purge --dead N`):")
        lines += [
            f"  #{letter.number:<5} {letter.sink}  failed {letter.failed_at:%Y-%m-%d %H:%M:%S}Z  "
            f"{_summary(letter.event)}: {letter.error.removeprefix(letter.sink + ': ')}"
            for letter in dead
        ]
    return "\n".join(lines)


def _pending_lines(outbox: Outbox, sink: str, accepts: Callable[[str], bool] | None) -> list[str]:
    count = outbox.pending_count(sink, accepts)
    if not count:
        return []
    shown = [
        pending.event
        for pending in outbox.pending(sink, limit=SHOWN_PER_SINK * 50)
        if pending.is_for(sink) and (accepts is None or accepts(pending.event.type))
    ][:SHOWN_PER_SINK]
    lines = [f"pending for {sink}, oldest first:"]
    lines += [f"  {_summary(event)}" for event in shown]
    if count > len(shown):
        lines.append(f"  … and {count - len(shown)} more")
    return lines


def _summary(event: Event) -> str:
    time = event.time.isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"{time}  {event.type}  camera {event.camera}  id {event.id}"
