"""Each sink's number of pending events, kept in memory so that asking costs nothing.

Counting them in the outbox file means reading every held event's row (tens of milliseconds
to seconds at 100 000, which one dead webhook reaches), and /metrics, /healthz and the systemd
status line ask all the time. So the outbox counts once when the dispatcher starts, then each
of its transactions counts what it changes (an event appended, passed by a sink, dropped
because the outbox was full), applied once it has committed; and it counts again when it sees
that another process changed the file (`streamwatch outbox retry` or `purge`).

The outbox's thread writes the counts; the event loop reads them, under a lock, so a read sees
whole commits.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# Whether a sink takes events of a type ("streamwatch.face.new"): its event-type filter.
Accepts = Callable[[str], bool]
# Beyond any event's seq (SQLite's largest integer): "up to the end" in a range that keeps
# the primary key's range search.
END_SEQ = 2**63 - 1


def count_pending(
    db: sqlite3.Connection, sink: str, accepts: Accepts | None, up_to: int = END_SEQ
) -> int:
    """Events in the outbox file after the sink's cursor, up to `up_to`, that are for it."""
    rows = db.execute(
        "SELECT type, COUNT(*) FROM events "
        "WHERE seq > (SELECT seq FROM cursors WHERE sink = ?1) AND seq <= ?2 "
        "AND (target IS NULL OR target = ?1) GROUP BY type",
        (sink, up_to),
    ).fetchall()
    return sum(count for kind, count in rows if accepts is None or accepts(kind))


@dataclass
class CountChange:
    """What one transaction changes."""

    pending: Counter[str] = field(default_factory=Counter)
    dropped_full: int = 0


class PendingCounts:
    def __init__(self, filters: Mapping[str, Accepts]) -> None:
        self.filters = dict(filters)
        self._lock = threading.Lock()
        self._pending = dict.fromkeys(self.filters, 0)
        self._dropped_full = 0

    # Read from anywhere.

    def pending(self, sink: str) -> int:
        """Events the sink has still to get."""
        with self._lock:
            return self._pending[sink]

    @property
    def dropped_full(self) -> int:
        """Events dropped because the outbox was full, ever (the file's count)."""
        with self._lock:
            return self._dropped_full

    # The outbox's side, on its thread, inside its transactions.

    def recount(self, db: sqlite3.Connection, dropped_full: int) -> None:
        pending = {sink: count_pending(db, sink, accepts) for sink, accepts in self.filters.items()}
        with self._lock:
            self._pending = pending
            self._dropped_full = dropped_full

    def added(self, change: CountChange, event_type: str, target: str | None) -> None:
        """An event of this type was appended for `target` (None: every sink)."""
        change.pending.update(
            sink
            for sink, accepts in self.filters.items()
            if target in (None, sink) and accepts(event_type)
        )

    def passed(self, change: CountChange, db: sqlite3.Connection, sink: str, up_to: int) -> None:
        """The sink's cursor is about to move up to `up_to`."""
        if accepts := self.filters.get(sink):
            change.pending[sink] -= count_pending(db, sink, accepts, up_to)

    def dropped(
        self, change: CountChange, db: sqlite3.Connection, rows: list[tuple[int, str, str | None]]
    ) -> None:
        """These events (seq, type, target) were dropped because the outbox was full: out of
        the count of every sink that had not passed them yet."""
        change.dropped_full += len(rows)
        cursors: dict[str, int] = dict(db.execute("SELECT sink, seq FROM cursors").fetchall())
        for seq, event_type, target in rows:
            for sink, accepts in self.filters.items():
                passed = cursors.get(sink, seq) >= seq
                if not passed and target in (None, sink) and accepts(event_type):
                    change.pending[sink] -= 1

    def apply(self, change: CountChange) -> None:
        """A transaction's change, once it has committed."""
        with self._lock:
            for sink, amount in change.pending.items():
                self._pending[sink] += amount
            self._dropped_full += change.dropped_full


__all__ = ["END_SEQ", "Accepts", "CountChange", "PendingCounts", "count_pending"]
