"""The JSON-lines sink: one CloudEvents JSON document per line, to standard output or a file.

A file is rotated by size: once the next line would take it past `rotate_mb`, it is renamed to
`<path>.1` (an existing `.1` to `.2`, …, the oldest beyond `keep_files` removed) and a new one
is started, so a box that runs for years never fills its disk with events.

Each line is synced to disk before the outbox forgets its event. Writing, rotating and syncing
block (standard output too, when what reads it is slow), so they run on a thread of the sink's
own, where the file is also opened and closed: the event loop never waits for the disk.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO, Self

from streamwatch.config.sinks import JsonLinesSinkSettings
from streamwatch.delivery.sinks import DeliveryError, type_filter
from streamwatch.events.model import Event
from streamwatch.serial_thread import SerialThread

BYTES_PER_MB = 1_000_000


class JsonLinesSink:
    def __init__(self, settings: JsonLinesSinkSettings) -> None:
        self.name = settings.sink_name
        self.accepts = type_filter(settings.event_types)
        self.path = None if settings.path == "-" else Path(settings.path)
        self._rotate_bytes = int(settings.rotate_mb * BYTES_PER_MB)
        self._keep_files = settings.keep_files
        self._file: BinaryIO | None = None  # used on the thread only
        self._thread = SerialThread(f"sink {self.name}")

    async def __aenter__(self) -> Self:
        await self._thread.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._thread.run_to_end(self._close)  # after a write in flight, if any
        finally:
            await self._thread.__aexit__(*exc_info)

    async def deliver(self, event: Event) -> None:
        line = event.to_json() + "\n"
        try:
            if self.path is None:
                await self._thread.run(self._print, line)
            else:
                await self._thread.run(self._append, line.encode())
        except OSError as error:
            raise DeliveryError(f"{self.name}: {error.strerror}", retryable=True) from None

    # On the sink's thread.

    @staticmethod
    def _print(line: str) -> None:
        sys.stdout.write(line)
        sys.stdout.flush()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

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
