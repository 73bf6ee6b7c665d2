"""The daily call count, kept on disk so that a restart does not give the day's budget back.

Every call is billed: a daemon restarted by systemd (after a crash, an upgrade, a reload that
rebuilds everything) must go on counting the calls it already made today, or a crash loop
spends the daily budget many times over. The ledger is one small JSON file in the state
directory, `{"day": "2026-11-24", "calls": 17}`, replaced atomically after each call.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import date
from pathlib import Path

log = logging.getLogger("streamwatch.budget")

LEDGER_NAME = "budget.json"


class CallLedger:
    def __init__(self, path: Path) -> None:
        self.path = path
        # Writes come from worker threads and may finish out of order: the highest count of
        # the day wins.
        self._lock = threading.Lock()
        self._written: tuple[date, int] | None = None

    def calls_on(self, day: date) -> int:
        """The calls counted on `day` (0 when the ledger is of another day, or missing)."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            if document["day"] != day.isoformat():
                return 0
            calls = document["calls"]
            if not isinstance(calls, int) or calls < 0:
                raise ValueError(f"calls must be a count, got {calls!r}")
            return calls
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("%s unreadable (%s): today's calls counted from 0", self.path, error)
            return 0

    def record(self, day: date, calls: int) -> None:
        """Write the count of `day` (unless a higher one of that day is already written).

        Blocks on fsync: call it from a worker thread. A failure is logged: counting goes on
        in memory.
        """
        with self._lock:
            if self._written is not None and self._written[0] == day and self._written[1] >= calls:
                return
            self._write(day, calls)

    def _write(self, day: date, calls: int) -> None:
        partial = self.path.with_suffix(".partial")
        try:
            with partial.open("w", encoding="utf-8") as file:
                json.dump({"day": day.isoformat(), "calls": calls}, file)
                file.flush()
                os.fsync(file.fileno())
            partial.replace(self.path)
            self._written = (day, calls)
        except OSError as error:
            log.warning(
                "%s not written (%s): a restart would count today's calls anew", self.path, error
            )
