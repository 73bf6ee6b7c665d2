"""The C allocator's arenas: few, so that a frame freed on one thread is reused by the next.

glibc gives a thread that allocates while the others' arenas are busy an arena of its own (up
to eight per core) and keeps freed memory in the arena it came from. A camera's pictures —
FFmpeg's decoded frames, OpenCV's BGR copy (2.7 MB at 720p), the gate's crops — are allocated
on its reader thread and workers and freed on the event loop or another worker, so each thread
kept an arena of freed frames. With two arenas one or two 720p cameras held 16-21 MB less RSS
(bench/pipeline_scale.py --quick: 219-221 against 234-235 MB for one camera, 242-243 against
260-263 MB for two) for the same CPU.

`limit_malloc_arenas` runs once, before any thread starts; MALLOC_ARENA_MAX in the environment
wins (glibc read it already). Elsewhere than glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import os

# mallopt's parameter number for the largest number of arenas (glibc's malloc.h).
M_ARENA_MAX = -8
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Ask glibc for at most `arenas` arenas; True when it took the setting."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False  # the operator's choice
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):  # no C library to ask, or not glibc's
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
