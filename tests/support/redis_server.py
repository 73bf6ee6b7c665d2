"""A real redis-server on 127.0.0.1 for tests, which can be killed and started again.

No persistence (`--save '' --appendonly no`): it writes no file, and a restarted server has
lost every key, as a Redis without persistence does after a crash.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as redis

from .ports import free_port

STARTED_LINE = b"Ready to accept connections"


class RedisServer:
    def __init__(self, executable: str) -> None:
        self._executable = executable
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    async def start(self) -> None:
        process = await asyncio.create_subprocess_exec(
            self._executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        async with asyncio.timeout(10):
            while STARTED_LINE not in (line := await process.stdout.readline()):
                if not line:
                    raise AssertionError(f"redis-server exited with {await process.wait()}")
        # Keep reading its log, so that a full pipe never blocks the server.
        self._drain = asyncio.create_task(_discard(process.stdout))
        self._process = process

    async def kill(self) -> None:
        """SIGKILL, as a crash: no goodbye to its clients."""
        if self._process is not None:
            self._process.kill()
            await self._process.wait()
            if self._drain is not None:
                await self._drain
            self._process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


@asynccontextmanager
async def redis_server() -> AsyncIterator[RedisServer]:
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server not installed (apt-get install redis-server; .ci/run does)")
    server = RedisServer(executable)
    await server.start()
    try:
        yield server
    finally:
        await server.kill()
