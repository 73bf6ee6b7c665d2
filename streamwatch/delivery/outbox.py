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
last ones, and those events go out again, which at-least-once delivery allows. A transaction
that fails, its COMMIT included, is rolled back: the next one starts clean.

Every call blocks (an fsync, or up to `busy_timeout_s` behind another process's write): the
running daemon uses its outbox only through `OutboxThread`, on a thread of its own; the
`streamwatch outbox` command uses it directly. Pending counts per sink are kept in memory on
request (`keep_counts`, streamwatch.delivery.pending_counts): each transaction counts what it
changes, in the file as it is after any other process's commits (SQLite's data_version says
when to count again).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamwatch.delivery.pending_counts import Accepts, CountChange, PendingCounts, count_pending
from streamwatch.events.model import Event
from streamwatch.sqlite_files import immediate_transaction, sqlite_errors

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

    def __init__(
        self,
        path: Path,
        *,
        max_events: int = 100_000,
        create: bool = True,
        busy_timeout_s: float = 5.0,
    ) -> None:
        """`busy_timeout_s`: how long a write waits for another connection's to end."""
        self.path = path
        self.max_events = max_events
        self.busy_timeout_s = busy_timeout_s
        self._create = create
        self._db: sqlite3.Connection | None = None
        self._last_drop_log_s = -DROP_LOG_INTERVAL_S
        self._counts: PendingCounts | None = None
        self._data_version = -1  # of the file when last counted; changes with other writers
        self._change = CountChange()  # of the transaction under way

    def __enter__(self) -> Outbox:
        if not self._create and not self.path.is_file():
            raise OutboxError(f"no outbox at {self.path}: streamwatch has not run with it yet")
        with self._errors():
            db = sqlite3.connect(self.path, isolation_level=None)
            self._db = db
            # `streamwatch outbox` may write meanwhile.
            db.execute(f"PRAGMA busy_timeout = {round(self.busy_timeout_s * 1000)}")
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

    def keep_counts(self, filters: Mapping[str, Accepts]) -> PendingCounts:
        """Count each sink's pending events (`filters`: each sink's event-type filter) now,
        and keep the counts exact from then on as this connection's transactions commit.
        Another connection's changes come in with this connection's next transaction, or
        with `refresh_counts`."""
        self._counts = PendingCounts(filters)
        with self._errors():
            self._recount(self._counts)
        return self._counts

    def refresh_counts(self) -> None:
        """Count again if another connection changed the file since the last count
        (`streamwatch outbox retry` or `purge`): SQLite's data_version says so."""
        if self._counts is None:
            return
        with self._errors():
            (version,) = self._connection().execute("PRAGMA data_version").fetchone()
            if version != self._data_version:
                log.debug("outbox %s changed by another process: counting again", self.path)
                self._recount(self._counts)

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

    def pending_count(self, sink: str, accepts: Accepts | None = None) -> int:
        """Events the sink has still to get, counted in the file; `accepts` applies its
        event-type filter. Reads every pending event's row: a running dispatcher asks
        `keep_counts`' counts instead."""
        with self._errors():
            return count_pending(self._connection(), sink, accepts)

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
        if self._counts is not None:
            self._counts.added(self._change, kind, target)
        dropped_rows = db.execute(
            "DELETE FROM events WHERE seq <= ? RETURNING seq, type, target",
            (seq - self.max_events,),
        ).fetchall()
        if dropped := len(dropped_rows):
            self._count(db, "dropped_full", dropped)
            if self._counts is not None:
                self._counts.dropped(self._change, db, dropped_rows)
            now_s = time.monotonic()
            if now_s - self._last_drop_log_s >= DROP_LOG_INTERVAL_S:
                self._last_drop_log_s = now_s
                log.warning(
                    "outbox full (%d events): dropping the oldest; %d dropped so far",
                    self.max_events,
                    self.counter("dropped_full"),  # this transaction's drops included
                )
        return seq

    def _advance(self, db: sqlite3.Connection, sink: str, seq: int) -> None:
        if self._counts is not None:
            self._counts.passed(self._change, db, sink, up_to=seq)
        db.execute("UPDATE cursors SET seq = MAX(seq, ?) WHERE sink = ?", (seq, sink))
        self._remove_delivered(db)

    @staticmethod
    def _remove_delivered(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM events WHERE seq <= (SELECT MIN(seq) FROM cursors)")

    def _recount(self, counts: PendingCounts) -> None:
        db = self._connection()
        # Read first: a commit by another process while counting changes it again, and the
        # next look counts again.
        (self._data_version,) = db.execute("PRAGMA data_version").fetchone()
        counts.recount(db, self.counter("dropped_full"))

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
        with self._errors(), immediate_transaction(db, durable=durable):
            change = self._change = CountChange()
            # Each change is counted from the file as it is now, others' commits included:
            # an event another process queued and this one passes is in the count first.
            self.refresh_counts()
            yield db
        if self._counts is not None:
            self._counts.apply(change)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the outbox is not open (use `with Outbox(...)`)")
        return self._db

    def _errors(self) -> contextlib.AbstractContextManager[None]:
        return sqlite_errors(OutboxError, f"outbox {self.path}")


def _event(body: str) -> Event:
    return Event.from_cloudevent(json.loads(body))


__all__ = ["FILE_NAME", "DeadLetter", "Outbox", "OutboxError", "Pending"]
