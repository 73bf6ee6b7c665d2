"""The daemon: an `App` under signals, reloads and systemd's notify protocol.

SIGTERM/SIGINT stop it, SIGHUP reloads the config (restarting only the cameras that changed, or
rebuilding every part in this process), and systemd hears READY, STATUS, WATCHDOG, RELOADING
and STOPPING as they happen.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from contextlib import AsyncExitStack

from streamwatch.config.model import Settings
from streamwatch.tracking.tracker import TrackNumbers

from .runner import App
from .systemd import Notifier

log = logging.getLogger("streamwatch.app")

ConfigLoader = Callable[[], Settings]


async def run(
    settings: Settings,
    *,
    duration_s: float | None = None,
    reload_config: ConfigLoader | None = None,
) -> None:
    """The daemon: until SIGINT/SIGTERM, `duration_s`, or every camera ended (CamerasGone when
    some were given up rather than finished).

    SIGHUP calls `reload_config`. When only cameras' settings changed, those cameras restart
    and everything else runs on. Any other change (a camera added or removed, another section)
    rebuilds every part in this process, as a restart would (events wait in the outbox, the
    day's call count in its ledger), without systemd seeing the service stop. Either way the
    faces of a stopped camera get their face.left, and track ids are never reused. A rebuild
    whose new parts cannot start (a port in use) is logged, and the previous configuration
    runs again. A camera that cannot start is never a reason: it is `failed` on its own.
    """
    stop = asyncio.Event()
    reload = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = {signal.SIGINT: stop.set, signal.SIGTERM: stop.set, signal.SIGHUP: reload.set}
    for signum, handler in handled.items():
        loop.add_signal_handler(signum, handler)
    notifier = Notifier()
    deadline_s = None if duration_s is None else loop.time() + duration_s
    track_numbers = TrackNumbers()  # outlives every App of this process
    previous: Settings | None = None  # what ran before a rebuild: back to it if it cannot start
    try:
        while True:
            rebuild_with: list[Settings] = []
            ended = asyncio.Event()  # this App's end: asked to stop, or to be rebuilt
            async with AsyncExitStack() as stack:
                try:
                    app = await stack.enter_async_context(
                        App(settings, track_numbers=track_numbers)
                    )
                except Exception as error:
                    if previous is None:
                        raise  # starting up: the caller says why, in one line
                    # A bad edit must not stop a running daemon (a port in use, say).
                    log.error(
                        "SIGHUP: the new configuration cannot start (%s); back to the previous one",
                        error,
                    )
                    settings, previous = previous, None
                    continue
                notifier.ready(app.status_line())
                also = [notifier.keep_alive(app.status_line), _forward(stop, ended)]
                if reload_config is not None:
                    also.append(_reload_on_signal(app, reload, reload_config, ended, rebuild_with))
                left_s = None if deadline_s is None else max(0.0, deadline_s - loop.time())
                await app.run(ended, duration_s=left_s, also=also)
                if stop.is_set() or not rebuild_with:
                    notifier.stopping()
                    return
                notifier.reloading()
                await app.close_tracks()
            settings, previous = rebuild_with[0], settings
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        notifier.close()


async def _forward(stop: asyncio.Event, ended: asyncio.Event) -> None:
    await stop.wait()
    ended.set()


async def _reload_on_signal(
    app: App,
    reload: asyncio.Event,
    load: ConfigLoader,
    ended: asyncio.Event,
    rebuild_with: list[Settings],
) -> None:
    while True:
        await reload.wait()
        reload.clear()
        try:
            settings = load()
        except Exception as error:  # a bad edit must not stop a running daemon
            log.error("SIGHUP: configuration not reloaded: %s", error)
            continue
        if not await app.reload(settings):
            rebuild_with.append(settings)
            ended.set()
            return
