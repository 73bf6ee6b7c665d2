"""A real mosquitto broker on 127.0.0.1 for tests, which can be stopped and started again.

It keeps its state in a directory of the test's (persistence on), so a subscriber's session and
the messages queued for it survive a restart, as they do on a production broker.
"""

from __future__ import annotations

import asyncio
import getpass
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from .ports import free_port

MOSQUITTO = Path("/usr/sbin/mosquitto")
STARTED_LINE = b" running"  # "mosquitto version 2.0.11 running"


class Broker:
    def __init__(self, folder: Path, users: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        access = "allow_anonymous true\n"
        if users is not None:
            passwords = folder / "passwords"
            passwords.write_text("".join(f"{user}:{secret}\n" for user, secret in users.items()))
            subprocess.run(["mosquitto_passwd", "-U", str(passwords)], check=True)  # hashes them
            access = f"allow_anonymous false\npassword_file {passwords}\n"
        self._config = folder / "mosquitto.conf"
        self._config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"{access}"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            # When started as root, it would switch to the `mosquitto` user, who cannot write here.
            f"user {getpass.getuser()}\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        )
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        process = await asyncio.create_subprocess_exec(
            str(MOSQUITTO), "-c", str(self._config), stderr=asyncio.subprocess.PIPE
        )
        assert process.stderr is not None
        async with asyncio.timeout(10):
            while STARTED_LINE not in (line := await process.stderr.readline()):
                if not line:
                    raise AssertionError(f"mosquitto exited with {await process.wait()}")
        # Keep reading its log, so that a full pipe never blocks the broker.
        self._drain = asyncio.create_task(_discard(process.stderr))
        self._process = process

    async def stop(self) -> None:
        """SIGTERM: mosquitto saves its state and exits."""
        if self._process is not None:
            self._process.terminate()
            await self._process.wait()
            await self._drain
            self._process = None


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


@asynccontextmanager
async def mosquitto(folder: Path, users: dict[str, str] | None = None) -> AsyncIterator[Broker]:
    """A broker for the test; with `users` (name: password), only they may connect."""
    if not _installed():
        pytest.skip(f"{MOSQUITTO} not installed (apt-get install mosquitto; .ci/run does)")
    broker = Broker(folder, users)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


def _installed() -> bool:
    return MOSQUITTO.is_file()
