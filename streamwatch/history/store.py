"""The event store: every event, and the pictures of alarms, in SQLite (WAL) under state_dir.

One table holds the events in the order they arrived (`seq`), each as its CloudEvents JSON
(without the base64 face crop an event may carry: the face is kept as a picture of its own);
another the alarms' pictures (the whole frame and the face, JPEG), keyed by their event's id.
The pictures are BLOBs in the same file rather than files beside it: an event and its pictures
go in one DELETE, a crash cannot leave a picture without its event or the reverse, and the
size limit is one sum. A picture whose event never arrives (lost before the outbox) goes after
`ORPHAN_S`.

Retention, checked on every write and by `prune` (the daemon calls it hourly, so an idle
kiosk still forgets): events older than `max_age_s`, then the oldest beyond `max_events`, then
the oldest until the events and pictures fit in `max_bytes`. Each drop is counted by its reason
in the file. `PRAGMA auto_vacuum = INCREMENTAL` gives the freed pages back, so the file shrinks
with what it holds (indexes make it a little larger than the sum of what is kept).

An event's row is synced to disk before `add` returns (synchronous=FULL): the outbox forgets
it once this store has it. Everything blocks: the daemon uses the store through `History`, on a
thread of its own; one process writes it (the state directory's lock).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from streamwatch.events.kind import EventKind
from streamwatch.events.model import EVENT_TYPE_PREFIX, Event
from streamwatch.overlay.alarm import alert_id_of
from streamwatch.sqlite_files import immediate_transaction, sqlite_errors

FILE_NAME: Final = "history.db"
ORPHAN_S: Final = 3600.0
CROP_FIELD: Final = "crop_jpeg_base64"
MAX_LIMIT: Final = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    camera TEXT NOT NULL,
    time_s REAL NOT NULL,  -- the event's time, Unix seconds
    alert_id TEXT,  -- alert.acknowledged: the alert it acknowledges
    body TEXT NOT NULL,  -- the CloudEvents JSON, without the face crop
    bytes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_camera ON events (camera, seq);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, seq);
CREATE INDEX IF NOT EXISTS events_by_time ON events (time_s);
CREATE INDEX IF NOT EXISTS events_by_alert ON events (alert_id) WHERE alert_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS snapshots (
    id TEXT PRIMARY KEY,  -- the event's id
    written_s REAL NOT NULL,
    frame BLOB,
    face BLOB,
    bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class HistoryError(Exception):
    """The store cannot be read or written; the message names the file."""


class DropReason(StrEnum):
    AGE = "age"
    COUNT = "count"
    SIZE = "size"


class Picture(StrEnum):
    FRAME = "frame"
    FACE = "face"


@dataclass(frozen=True, slots=True)
class Retention:
    max_events: int
    max_age_s: float
    max_bytes: int


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events, newest first: at most `limit`, of these cameras and kinds, since then."""

    limit: int = 50
    camera: str | None = None
    kinds: tuple[EventKind, ...] = ()  # none: all
    since: datetime | None = None


@dataclass
class HistoryStats:
    """What the store holds; kept as it changes, so a scrape reads memory, never the file."""

    events: int = 0
    bytes: int = 0
    dropped: dict[DropReason, int] = field(default_factory=lambda: dict.fromkeys(DropReason, 0))


class EventStore:
    """One store file, open between `__enter__` and `__exit__`, used from one thread."""

    def __init__(self, path: Path, retention: Retention, *, busy_timeout_s: float = 5.0) -> None:
        self.path = path
        self.retention = retention
        self.stats = HistoryStats()
        self._busy_timeout_s = busy_timeout_s
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> EventStore:
        with self._errors():
            db = sqlite3.connect(self.path, isolation_level=None)
            self._db = db
            db.execute(f"PRAGMA busy_timeout = {round(self._busy_timeout_s * 1000)}")
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes on a new file
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(_SCHEMA)
            self._recount(db)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def add(self, event: Event, now_s: float) -> None:
        """Keep the event (once: a redelivery of the same id changes nothing), then apply the
        limits. `now_s`: the wall clock, for the age limit."""
        body = _stored_json(event)
        alert_id = alert_id_of(event) if event.kind is EventKind.ALERT_ACKNOWLEDGED else None
        with self._transaction(durable=True) as db:
            added = db.execute(
                "INSERT INTO events (id, type, camera, time_s, alert_id, body, bytes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (
                    event.id,
                    event.type,
                    event.camera,
                    event.time.timestamp(),
                    alert_id,
                    body,
                    len(body),
                ),
            ).rowcount
            if added:
                self.stats.events += 1
                self.stats.bytes += len(body)
            self._enforce(db, now_s)

    def keep_pictures(
        self, event_id: str, frame: bytes | None, face: bytes | None, now_s: float
    ) -> None:
        """Keep an alarm's pictures (JPEG), before or after its event arrives."""
        size = len(frame or b"") + len(face or b"")
        with self._transaction(durable=False) as db:
            replaced = db.execute(
                "DELETE FROM snapshots WHERE id = ? RETURNING bytes", (event_id,)
            ).fetchall()
            self.stats.bytes -= sum(old for (old,) in replaced)
            db.execute(
                "INSERT INTO snapshots (id, written_s, frame, face, bytes) VALUES (?, ?, ?, ?, ?)",
                (event_id, now_s, frame, face, size),
            )
            self.stats.bytes += size
            self._enforce(db, now_s)

    def prune(self, now_s: float) -> None:
        """Apply the limits now (the age limit goes on while no event comes)."""
        with self._transaction(durable=False) as db:
            self._enforce(db, now_s)

    def query(self, query: EventQuery) -> list[str]:
        """The CloudEvents JSON of the events asked for, newest first."""
        if not 1 <= query.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be from 1 to {MAX_LIMIT}, got {query.limit}")
        conditions: list[str] = []
        parameters: list[object] = []
        if query.camera is not None:
            conditions.append("camera = ?")
            parameters.append(query.camera)
        if query.kinds:
            conditions.append(f"type IN ({', '.join('?' * len(query.kinds))})")
            parameters += [EVENT_TYPE_PREFIX + kind for kind in query.kinds]
        if query.since is not None:
            conditions.append("time_s >= ?")
            parameters.append(query.since.timestamp())
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        rows = self._rows(
            f"SELECT body FROM events {where}ORDER BY seq DESC LIMIT ?", (*parameters, query.limit)
        )
        return [str(body) for (body,) in rows]

    def event(self, event_id: str) -> Event | None:
        rows = self._rows("SELECT body FROM events WHERE id = ?", (event_id,))
        return Event.from_cloudevent(json.loads(rows[0][0])) if rows else None

    def acknowledgement_of(self, alert_id: str) -> str | None:
        """The id of the first alert.acknowledged of this alert, if it was acknowledged."""
        rows = self._rows(
            "SELECT id FROM events WHERE alert_id = ? ORDER BY seq LIMIT 1", (alert_id,)
        )
        return str(rows[0][0]) if rows else None

    def picture(self, event_id: str, which: Picture) -> bytes | None:
        column = {Picture.FRAME: "frame", Picture.FACE: "face"}[which]
        rows = self._rows(f"SELECT {column} FROM snapshots WHERE id = ?", (event_id,))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    # Inside.

    def _enforce(self, db: sqlite3.Connection, now_s: float) -> None:
        limits = self.retention
        self._drop(db, DropReason.AGE, "time_s < ?", (now_s - limits.max_age_s,))
        excess = self.stats.events - limits.max_events
        if excess > 0:
            self._drop(
                db,
                DropReason.COUNT,
                "seq <= (SELECT seq FROM events ORDER BY seq LIMIT 1 OFFSET ?)",
                (excess - 1,),
            )
        orphans = db.execute(
            "DELETE FROM snapshots WHERE written_s < ? AND id NOT IN (SELECT id FROM events) "
            "RETURNING bytes",
            (now_s - ORPHAN_S,),
        ).fetchall()
        self.stats.bytes -= sum(size for (size,) in orphans)
        while self.stats.bytes > limits.max_bytes:
            if not self._drop_oldest_for_size(db):
                break
        if db.execute("PRAGMA freelist_count").fetchone()[0]:
            db.execute("PRAGMA incremental_vacuum")

    def _drop_oldest_for_size(self, db: sqlite3.Connection) -> bool:
        """Drop the oldest events (with their pictures) until the excess is gone, or a picture
        without an event when no event is left; whether anything went."""
        excess = self.stats.bytes - self.retention.max_bytes
        rows = db.execute(
            "SELECT e.seq, e.bytes + COALESCE(s.bytes, 0) FROM events AS e "
            "LEFT JOIN snapshots AS s ON s.id = e.id ORDER BY e.seq LIMIT 256"
        ).fetchall()
        if not rows:
            orphan = db.execute(
                "DELETE FROM snapshots WHERE id = (SELECT id FROM snapshots ORDER BY written_s "
                "LIMIT 1) RETURNING bytes"
            ).fetchall()
            self.stats.bytes -= sum(size for (size,) in orphan)
            return bool(orphan)
        freed, last_seq = 0, rows[-1][0]
        for seq, size in rows:
            freed += size
            if freed >= excess:
                last_seq = seq
                break
        self._drop(db, DropReason.SIZE, "seq <= ?", (last_seq,))
        return True

    def _drop(
        self, db: sqlite3.Connection, reason: DropReason, where: str, parameters: Sequence[object]
    ) -> None:
        dropped = db.execute(
            f"DELETE FROM events WHERE {where} RETURNING id, bytes", parameters
        ).fetchall()
        if not dropped:
            return
        freed = sum(size for _, size in dropped)
        for event_id, _ in dropped:
            pictures = db.execute(
                "DELETE FROM snapshots WHERE id = ? RETURNING bytes", (event_id,)
            ).fetchall()
            freed += sum(size for (size,) in pictures)
        self.stats.events -= len(dropped)
        self.stats.bytes -= freed
        self.stats.dropped[reason] += len(dropped)
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (f"dropped_{reason}", len(dropped)),
        )

    def _recount(self, db: sqlite3.Connection) -> None:
        (events, event_bytes) = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM events"
        ).fetchone()
        (picture_bytes,) = db.execute("SELECT COALESCE(SUM(bytes), 0) FROM snapshots").fetchone()
        counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
        self.stats.events = int(events)
        self.stats.bytes = int(event_bytes) + int(picture_bytes)
        self.stats.dropped = {r: int(counters.get(f"dropped_{r}", 0)) for r in DropReason}

    def _rows(self, sql: str, parameters: Sequence[object]) -> list[Any]:
        with self._errors():
            return self._connection().execute(sql, parameters).fetchall()

    @contextlib.contextmanager
    def _transaction(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        before = (self.stats.events, self.stats.bytes, dict(self.stats.dropped))
        try:
            with self._errors(), immediate_transaction(db, durable=durable):
                yield db
        except BaseException:
            # What the transaction counted did not happen.
            self.stats.events, self.stats.bytes, self.stats.dropped = before
            raise

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the event store is not open (use `with EventStore(...)`)")
        return self._db

    def _errors(self) -> contextlib.AbstractContextManager[None]:
        return sqlite_errors(HistoryError, f"history {self.path}")


def _stored_json(event: Event) -> str:
    """The event as kept: its face crop is kept as a picture of its own, not inside it."""
    document = event.to_cloudevent()
    document["data"].pop(CROP_FIELD, None)
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


__all__ = [
    "FILE_NAME",
    "DropReason",
    "EventQuery",
    "EventStore",
    "HistoryError",
    "HistoryStats",
    "Picture",
    "Retention",
]
