"""The C allocator's arenas (app/memory.py): a few for every thread, not one per camera."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from streamwatch.app.memory import limit_malloc_arenas

# Six threads, each holding 720p-sized frames at the same moment (so none can borrow another's
# arena), then glibc's malloc_stats() prints one "Arena N:" block per arena on stderr.
THREADS_HOLDING_FRAMES = """
import ctypes, sys, threading
import numpy as np
from streamwatch.app.memory import limit_malloc_arenas
if sys.argv[1] == "limit":
    assert limit_malloc_arenas()
together = threading.Barrier(6)
def camera():
    frames = []
    for _ in range(4):
        frames.append(np.ones((720, 1280, 3), np.uint8))
        together.wait()
threads = [threading.Thread(target=camera) for _ in range(6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL(None).malloc_stats()
"""


def _arenas(mode: str) -> int:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(THREADS_HOLDING_FRAMES), mode],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        timeout=60,
    )
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_frames_of_many_threads_share_two_arenas() -> None:
    # Left to glibc, each thread holding frames gets an arena of its own, and keeps what it
    # freed there: on main that was about 30 MB of RSS per camera.
    assert _arenas("default") > 2
    assert _arenas("limit") <= 2


def test_the_operators_malloc_arena_max_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False
