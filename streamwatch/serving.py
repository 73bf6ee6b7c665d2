"""Binding a server's address: the live view's and the status server's, one line when it fails.

A port already in use (another streamwatch, a second copy started by hand), a host that is not
this machine's, or a port below 1024 without the right: the daemon cannot do what its config
asks, so it says which server, which address, why, and which keys to change — the message a
user acts on, never a traceback.
"""

from __future__ import annotations

import errno
import os

from aiohttp import web


class CannotServe(Exception):
    """A server whose address cannot be bound; the message is one line for the user."""


async def start_site(runner: web.AppRunner, host: str, port: int, *, server: str, keys: str) -> int:
    """Serve `runner` on host:port; the bound port (the real one when `port` is 0).

    `server` names it ("live view"), `keys` the settings that choose its address.
    """
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as error:
        # asyncio's text repeats the address; the errno's own words are enough.
        reason = os.strerror(error.errno) if error.errno else str(error)
        fix = (
            f"stop what listens there, or choose another port in {keys}"
            if error.errno == errno.EADDRINUSE
            else f"check {keys}"
        )
        raise CannotServe(f"{server}: cannot serve on {host}:{port}: {reason} ({fix})") from None
    return int(runner.addresses[0][1])
