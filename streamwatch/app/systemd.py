"""The systemd notify protocol (sd_notify), spoken from the event loop.

READY=1 once every part has started, STATUS= lines a person reads in `systemctl status`,
STOPPING=1 on the way out, and WATCHDOG=1 pings at half the WatchdogSec interval systemd asks
for. The pings come from a task on the event loop on purpose: if the loop hangs, they stop and
systemd restarts the service. Without NOTIFY_SOCKET (not under systemd) all of it is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable

log = logging.getLogger("streamwatch.app")


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        environ = dict(os.environ) if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        # "@name" is an abstract socket: its address starts with a NUL byte.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        watchdog_usec = environ.get("WATCHDOG_USEC", "")
        self.watchdog_interval_s = int(watchdog_usec) / 1e6 if watchdog_usec.isdigit() else None
        self._socket: socket.socket | None = None
        if self._address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def notify(self, *lines: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto("\n".join(lines).encode(), self._address)
        except OSError as error:  # systemd gone: nothing to tell, nothing to stop for
            log.debug("sd_notify failed: %s", error)

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}")

    def stopping(self) -> None:
        self.notify("STOPPING=1", "STATUS=stopping")

    def reloading(self) -> None:
        self.notify("RELOADING=1", "STATUS=reloading the configuration")

    async def keep_alive(self, status: Callable[[], str]) -> None:
        """Ping the watchdog (when systemd asks for it) and refresh STATUS, until cancelled."""
        interval_s = self.watchdog_interval_s / 2 if self.watchdog_interval_s else 10.0
        while True:
            await asyncio.sleep(interval_s)  # a heartbeat: the pause is the point
            lines = [f"STATUS={status()}"]
            if self.watchdog_interval_s:
                lines.append("WATCHDOG=1")
            self.notify(*lines)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
