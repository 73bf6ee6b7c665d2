"""The state directory: where the outbox lives, and the lock that keeps it to one process.

`/var/lib/streamwatch` by default. Under systemd, the service's own directory comes first:
`$STATE_DIRECTORY`, what StateDirectory= hands it. A user who is not root cannot create
/var/lib/streamwatch, and `streamwatch run` must still work on a fresh machine, so then the
outbox goes to `$XDG_STATE_HOME/streamwatch` (`~/.local/state/streamwatch`). A directory set in
the config is used as it is, or refused with the fix. `$STREAMWATCH_STATE_DIR` overrides
everything: a second instance on one machine, or tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from streamwatch.config.model import DEFAULT_STATE_DIR

log = logging.getLogger("streamwatch.delivery")

OVERRIDE_ENV = "STREAMWATCH_STATE_DIR"
LOCK_NAME = "streamwatch.lock"


class StateDirError(Exception):
    """The state directory cannot be used; the message says which one and what to do."""


def resolve_state_dir(configured: str) -> Path:
    """The directory to keep state in, created if missing."""
    override = os.environ.get(OVERRIDE_ENV)
    if override:
        return _usable_or_error(Path(override), f"${OVERRIDE_ENV}")
    if configured != DEFAULT_STATE_DIR:
        return _usable_or_error(Path(configured).expanduser(), "state_dir")
    if systemd := os.environ.get("STATE_DIRECTORY"):
        return _usable_or_error(Path(systemd.split(":", 1)[0]), "$STATE_DIRECTORY")
    if _usable(Path(DEFAULT_STATE_DIR)):
        return Path(DEFAULT_STATE_DIR)
    xdg_state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    fallback = Path(xdg_state) / "streamwatch"
    if _usable(fallback):
        log.info("%s is not writable: keeping state in %s", DEFAULT_STATE_DIR, fallback)
        return fallback
    raise StateDirError(
        f"neither {DEFAULT_STATE_DIR} nor {fallback} can be written: set state_dir to a "
        f"writable directory (or ${OVERRIDE_ENV})"
    )


@contextlib.contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """Hold the state directory for this process; another streamwatch on it is refused.

    flock is released by the kernel when the process dies, even by SIGKILL, so a crash never
    leaves a stale lock behind.
    """
    path = state_dir / LOCK_NAME
    with path.open("a+") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "?"
            raise StateDirError(
                f"{state_dir} is in use by another streamwatch (pid {holder}); stop it, or give "
                f"this one its own state_dir (or ${OVERRIDE_ENV})"
            ) from None
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _usable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def _usable_or_error(path: Path, key: str) -> Path:
    if not _usable(path):
        raise StateDirError(
            f"{key}: cannot create or write {path}; make it writable for this user "
            "or choose another directory"
        )
    return path
