"""The outbox: every event, in SQLite (WAL), from before any sink sees it until every sink has it.

One table holds the events in the order they were made (`seq`); one cursor per sink holds the
last `seq` that sink is done with (delivered, dead-lettered, or not meant for it). An event is
removed once every cursor has passed it. Dead letters, the events a receiver refused, are kept
in a table of their own with the refusal, until retried or purged.

Bounded: at most `max_events` events (and as many dead letters). When full, the oldest is
dropped to make room for the new one: a stale event is worth less than a fresh one. Every drop
is counted in the file (`dropped_full`), logged, and shown by `streamwatch outbox`.

Durability: an event's commit is synced to disk (synchronous=FULL) before `append` returns,
so it survives a power cut. A cursor's commit is not synced (NORMAL): a power cut may undo the
last ones, and those events go out again, which at-least-once delivery allows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamwatch.events.model import Event

log = logging.getLogger("streamwatch.delivery")

FILE_NAME = "outbox.db"
DROP_LOG_INTERVAL_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    target TEXT,  -- NULL: for every sink; else only for this one (a dead letter retried)
    body TEXT NOT NULL  -- the CloudEvents JSON
);
CREATE TABLE IF NOT EXISTS cursors (sink TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    sink TEXT NOT NULL,
    body TEXT NOT NULL,
    error TEXT NOT NULL,
    failed_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class OutboxError(Exception):
    """The outbox file cannot be read or written; the message names the file."""


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    event: Event
    target: str | None  # only for this sink, or None for all

    def is_for(self, sink: str) -> bool:
        return self.target is None or self.target == sink


@dataclass(frozen=True, slots=True)
class DeadLetter:
    number: int  # what `streamwatch outbox retry` and `purge` take
    sink: str
    event: Event
    error: str
    failed_at: datetime


class Outbox:
    """One outbox file, open between `__enter__` and `__exit__`, used from one thread."""

    def __init__(self, path: Path, *, max_events: int = 100_000, create: bool = True) -> None:
        self.path = path
        self.max_events = max_events
        self._create = create
        self._db: sqlite3.Connection | None = None
        self._last_drop_log_s = -DROP_LOG_INTERVAL_S

    def __enter__(self) -> Outbox:
        if not self._create and not self.path.is_file():
            raise OutboxError(f"no outbox at {self.path}: streamwatch has not run with it yet")
        with self._errors():
            db = sqlite3.connect(self.path, isolation_level=None)
            self._db = db
            db.execute("PRAGMA busy_timeout = 5000")  # `streamwatch outbox` may write meanwhile
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(_SCHEMA)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # The running side: the dispatcher.

    def attach(self, sinks: Sequence[str]) -> None:
        """Give each new sink a cursor at the end; forget sinks no longer configured."""
        with self._transaction(durable=False) as db:
            known = {sink for (sink,) in db.execute("SELECT sink FROM cursors")}
            (end,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
            for sink in sorted(set(sinks) - known):
                db.execute("INSERT INTO cursors (sink, seq) VALUES (?, ?)", (sink, end))
            for sink in sorted(known - set(sinks)):
                log.warning(
                    "sink %s is no longer configured: %d events it had not received are "
                    "dropped for it (its dead letters stay)",
                    sink,
                    self.pending_count(sink),
                )
                db.execute("DELETE FROM cursors WHERE sink = ?", (sink,))
            self._remove_delivered(db)

    def append(self, event: Event) -> int:
        """Commit the event to disk, for every sink; its `seq`. Drops the oldest when full."""
        with self._transaction(durable=True) as db:
            seq = self._insert(db, event.id, event.type, None, event.to_json())
        return seq

    def pending(self, sink: str, *, limit: int = 64) -> list[Pending]:
        """The next events after the sink's cursor, oldest first (some may not be for it)."""
        rows = self._query(
            "SELECT seq, target, body FROM events "
            "WHERE seq > (SELECT seq FROM cursors WHERE sink = ?) ORDER BY seq LIMIT ?",
            (sink, limit),
        )
        return [Pending(seq, _event(body), target) for seq, target, body in rows]

    def acknowledge(self, sink: str, seq: int) -> None:
        """The sink is done with every event up to `seq`."""
        with self._transaction(durable=False) as db:
            self._advance(db, sink, seq)

    def dead_letter(self, sink: str, pending: Pending, error: str) -> None:
        """Keep the event the sink refused, with why, and move the sink past it."""
        with self._transaction(durable=True) as db:
            number = db.execute(
                "INSERT INTO dead_letters (sink, body, error, failed_s) VALUES (?, ?, ?, ?)",
                (sink, pending.event.to_json(), error, time.time()),
            ).lastrowid
            assert number is not None
            dropped = db.execute(
                "DELETE FROM dead_letters WHERE number <= ?", (number - self.max_events,)
            ).rowcount
            self._count(db, "dropped_dead_full", dropped)
            self._advance(db, sink, pending.seq)

    # The operator's side: `streamwatch outbox`.

    def sinks(self) -> list[str]:
        return [sink for (sink,) in self._query("SELECT sink FROM cursors ORDER BY sink")]

    def held(self) -> int:
        """Events in the outbox (not yet delivered to every sink)."""
        return int(self._query("SELECT COUNT(*) FROM events")[0][0])

    def pending_count(self, sink: str, accepts: Callable[[str], bool] | None = None) -> int:
        """Events the sink has still to get; `accepts` applies its event-type filter."""
        rows = self._query(
            "SELECT type, target FROM events WHERE seq > (SELECT seq FROM cursors WHERE sink = ?)",
            (sink,),
        )
        return sum(
            1
            for kind, target in rows
            if target in (None, sink) and (accepts is None or accepts(kind))
        )

    def counter(self, name: str) -> int:
        rows = self._query("SELECT value FROM counters WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    def dead_letters(self, sink: str | None = None) -> list[DeadLetter]:
        rows = self._query(
            "SELECT number, sink, body, error, failed_s FROM dead_letters "
            "WHERE ?1 IS NULL OR sink = ?1 ORDER BY number",
            (sink,),
        )
        return [
            DeadLetter(number, name, _event(body), error, datetime.fromtimestamp(failed_s, UTC))
            for number, name, body, error, failed_s in rows
        ]

    def retry(self, numbers: Sequence[int] | None = None, *, sink: str | None = None) -> int:
        """Queue dead letters again, each for its own sink only; how many."""
        letters = self._select_dead(numbers, sink)
        orphans = sorted({letter.sink for letter in letters} - set(self.sinks()))
        if orphans:
            raise OutboxError(
                f"sink {', '.join(orphans)} was not configured when streamwatch last ran: add "
                "it back to the config and run once, or purge its dead letters"
            )
        with self._transaction(durable=True) as db:
            for letter in letters:
                event = letter.event
                self._insert(db, event.id, event.type, letter.sink, event.to_json())
                db.execute("DELETE FROM dead_letters WHERE number = ?", (letter.number,))
        return len(letters)

    def purge_dead(self, numbers: Sequence[int] | None = None, *, sink: str | None = None) -> int:
        letters = self._select_dead(numbers, sink)
        with self._transaction(durable=False) as db:
            for letter in letters:
                db.execute("DELETE FROM dead_letters WHERE number = ?", (letter.number,))
        return len(letters)

    def purge_pending(self, sink: str | None = None) -> int:
        """Give up the events a sink (or every sink) has still to get; how many."""
        sinks = self.sinks() if sink is None else [sink]
        if sink is not None and sink not in self.sinks():
            raise OutboxError(f"no sink {sink!r} in the outbox; it has {', '.join(self.sinks())}")
        purged = {s: self.pending_count(s) for s in sinks}
        with self._transaction(durable=False) as db:
            (end,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
            for name in sinks:
                self._advance(db, name, end)
        return sum(purged.values())

    # Inside.

    def _insert(
        self, db: sqlite3.Connection, event_id: str, kind: str, target: str | None, body: str
    ) -> int:
        seq = db.execute(
            "INSERT INTO events (id, type, target, body) VALUES (?, ?, ?, ?)",
            (event_id, kind, target, body),
        ).lastrowid
        assert seq is not None
        dropped = db.execute("DELETE FROM events WHERE seq <= ?", (seq - self.max_events,)).rowcount
        if dropped:
            self._count(db, "dropped_full", dropped)
            now_s = time.monotonic()
            if now_s - self._last_drop_log_s >= DROP_LOG_INTERVAL_S:
                self._last_drop_log_s = now_s
                log.warning(
                    "outbox full (%d events): dropping the oldest; %d dropped so far",
                    self.max_events,
                    self.counter("dropped_full") + dropped,
                )
        return seq

    def _advance(self, db: sqlite3.Connection, sink: str, seq: int) -> None:
        db.execute("UPDATE cursors SET seq = MAX(seq, ?) WHERE sink = ?", (seq, sink))
        self._remove_delivered(db)

    @staticmethod
    def _remove_delivered(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM events WHERE seq <= (SELECT MIN(seq) FROM cursors)")

    @staticmethod
    def _count(db: sqlite3.Connection, name: str, amount: int) -> None:
        if amount:
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                (name, amount),
            )

    def _select_dead(self, numbers: Sequence[int] | None, sink: str | None) -> list[DeadLetter]:
        letters = self.dead_letters(sink)
        if numbers is None:
            return letters
        chosen = [letter for letter in letters if letter.number in set(numbers)]
        missing = sorted(set(numbers) - {letter.number for letter in chosen})
        if missing:
            raise OutboxError(
                f"no dead letter {', '.join(map(str, missing))}"
                + (f" for sink {sink}" if sink else "")
                + " (see `streamwatch outbox list`)"
            )
        return chosen

    def _query(self, sql: str, parameters: Sequence[object] = ()) -> list[Any]:
        with self._errors():
            return self._connection().execute(sql, parameters).fetchall()

    @contextlib.contextmanager
    def _transaction(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        with self._errors():
            db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the outbox is not open (use `with Outbox(...)`)")
        return self._db

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise OutboxError(f"outbox {self.path}: {error}") from None


def _event(body: str) -> Event:
    return Event.from_cloudevent(json.loads(body))


__all__ = ["FILE_NAME", "DeadLetter", "Outbox", "OutboxError", "Pending"]
