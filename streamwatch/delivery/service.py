"""Delivery as a configuration asks for it: the state directory, its outbox, the sinks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp

from streamwatch.config.model import Settings
from streamwatch.delivery.dispatcher import Dispatcher
from streamwatch.delivery.outbox import FILE_NAME, Outbox
from streamwatch.delivery.outbox_thread import OutboxThread
from streamwatch.delivery.sinks import Sink, build_sink
from streamwatch.delivery.state_dir import locked, resolve_state_dir
from streamwatch.events.ack import AckRequest

log = logging.getLogger("streamwatch.delivery")


def outbox_path(settings: Settings) -> Path:
    return resolve_state_dir(settings.state_dir) / FILE_NAME


@contextlib.asynccontextmanager
async def open_delivery(
    settings: Settings,
    session: aiohttp.ClientSession,
    *,
    state_dir: Path | None = None,
    more_sinks: Sequence[Sink] = (),
    acks: asyncio.Queue[AckRequest] | None = None,
) -> AsyncIterator[Dispatcher]:
    """The running dispatcher of `settings`, holding its state directory for this process.

    `state_dir` replaces the settings' (a replay keeps its outbox apart from the daemon's);
    `more_sinks` are sinks the config does not list (the history); `acks` is where the MQTT
    sinks leave the acknowledgements asked for on their command topics.
    """
    path = outbox_path(settings) if state_dir is None else state_dir / FILE_NAME
    cameras = [camera.name for camera in settings.cameras]
    sinks = [
        build_sink(
            sink,
            session=session,
            node=settings.node,
            cameras=cameras,
            retry=settings.outbox,
            acks=acks,
        )
        for sink in settings.sinks
    ]
    sinks += more_sinks
    with locked(path.parent):
        async with OutboxThread(path, max_events=settings.outbox.max_events) as outbox:
            log.info("outbox %s: %d events held", path, await outbox.call(Outbox.held))
            async with Dispatcher(
                outbox,
                sinks,
                retry_initial_s=settings.outbox.retry_initial_s,
                retry_max_s=settings.outbox.retry_max_s,
            ) as dispatcher:
                yield dispatcher
