"""What every SQLite file of streamwatch (the outbox, the history) does alike."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator


@contextlib.contextmanager
def immediate_transaction(db: sqlite3.Connection, *, durable: bool) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, synced to disk before it returns when `durable`.

    Rolled back on any other exit, a COMMIT that failed (disk full) included: a connection left
    inside the transaction would make every later BEGIN fail too.
    """
    db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            if db.in_transaction:
                db.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def sqlite_errors(error_type: type[Exception], what: str) -> Iterator[None]:
    """sqlite3.Error raised as `error_type`, its message naming `what` ("outbox <path>")."""
    try:
        yield
    except sqlite3.Error as error:
        raise error_type(f"{what}: {error}") from None
