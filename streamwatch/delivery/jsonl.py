"""The JSON-lines sink: one CloudEvents JSON document per line, to standard output or a file.

A file is rotated by size: once the next line would take it past `rotate_mb`, it is renamed to
`<path>.1` (an existing `.1` to `.2`, …, the oldest beyond `keep_files` removed) and a new one
is started, so a box that runs for years never fills its disk with events.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO, Self

from streamwatch.config.sinks import JsonLinesSinkSettings
from streamwatch.delivery.sinks import DeliveryError, type_filter
from streamwatch.events.model import Event

BYTES_PER_MB = 1_000_000


class JsonLinesSink:
    def __init__(self, settings: JsonLinesSinkSettings) -> None:
        self.name = settings.sink_name
        self.accepts = type_filter(settings.event_types)
        self.path = None if settings.path == "-" else Path(settings.path)
        self._rotate_bytes = int(settings.rotate_mb * BYTES_PER_MB)
        self._keep_files = settings.keep_files
        self._file: BinaryIO | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    async def deliver(self, event: Event) -> None:
        # A few hundred bytes: cheaper to write here than to hop to a thread.
        line = event.to_json() + "\n"
        try:
            if self.path is None:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                self._append(line.encode())
        except OSError as error:
            raise DeliveryError(f"{self.name}: {error.strerror}", retryable=True) from None

    def _append(self, line: bytes) -> None:
        assert self.path is not None
        if self._file is None:
            self._file = self.path.open("ab")
        size = self._file.tell()
        if self._rotate_bytes and size and size + len(line) > self._rotate_bytes:
            self._file.close()
            self._file = None
            self._rotate(self.path)
            self._file = self.path.open("ab")
        self._file.write(line)
        self._file.flush()
        # On disk before the outbox forgets the event: a power cut must not lose the line.
        os.fsync(self._file.fileno())

    def _rotate(self, path: Path) -> None:
        for index in range(self._keep_files, 0, -1):
            older = path.with_name(f"{path.name}.{index}")
            newer = path if index == 1 else path.with_name(f"{path.name}.{index - 1}")
            if newer.exists():
                newer.replace(older)  # replaces the oldest beyond keep_files
