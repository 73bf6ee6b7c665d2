"""`streamwatch run` in a subprocess for synchronous tests (hypothesis drives examples from plain
functions): every stderr line kept, read by a thread, waited for by phrase."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class DaemonLog:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []  # every line so far, in order
        self._new: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._new.put(line)
        self._new.put(None)

    def until(self, phrase: str, timeout_s: float = 30) -> list[str]:
        """The lines up to the first one with `phrase` in it (that one included)."""
        seen: list[str] = []
        while True:
            line = self._new.get(timeout=timeout_s)
            if line is None:
                raise AssertionError(f"the daemon ended without logging {phrase!r}: {seen[-5:]}")
            self.lines.append(line)
            seen.append(line)
            if phrase in line:
                return seen

    def sighup(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> list[str]:
        """SIGTERM, and the lines it logged until it exited."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        rest: list[str] = []
        while (line := self._new.get(timeout=10)) is not None:  # None: stderr closed
            rest.append(line)
        self.lines += rest
        return rest


@contextmanager
def running_daemon(config: Path, env: dict[str, str] | None = None) -> Iterator[DaemonLog]:
    """`streamwatch run --config CONFIG`; wait for a line before sending it SIGHUP (until
    Python installed the daemon's handler, SIGHUP ends the process)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "streamwatch", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    log = DaemonLog(process)
    try:
        yield log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
