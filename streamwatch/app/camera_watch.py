"""One camera's health loop: the camera's health (capture/health.py, the same as /healthz's)
turned into camera.offline / camera.online events.

It wakes when the reader's state changes, when the health rules have a check due (an offline
announced after `offline_after_s`), and when a streaming camera's next frame is overdue
(`stall_timeout_s`) — never on a timer of its own. A camera its reader gave up is announced at
once, and its frames closed: that ends the camera's other tasks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from streamwatch.capture.health import camera_health
from streamwatch.capture.latest import LatestFrame
from streamwatch.capture.reader import CameraReader, CameraState
from streamwatch.clock import Clock
from streamwatch.events.camera import CameraHealthRules
from streamwatch.events.model import Event


async def watch_health(
    reader: CameraReader,
    rules: CameraHealthRules,
    latest: LatestFrame,
    clock: Clock,
    publish: Callable[[list[Event]], Awaitable[None]],
) -> None:
    """Until the camera finishes, stops, or its reader gives it up."""
    stall_timeout_s = reader.camera.stall_timeout_s
    version = reader.state_version
    while True:
        now_s = clock.monotonic_s()
        stats = reader.stats
        if stats.state in (CameraState.FINISHED, CameraState.STOPPED):
            return
        health = camera_health(stats, now_s, stall_timeout_s)
        now_wall_s = clock.wall_s()
        state, reason = str(health.state), health.reason
        if stats.given_up:
            await publish(
                rules.gone(now_s=now_s, now_wall_s=now_wall_s, state=state, reason=reason)
            )
            # No frame will come: this ends the camera's tasks (announced first, so the
            # announcement cannot be lost to the end).
            latest.close()
            return
        await publish(
            rules.observe(
                streaming=health.healthy,
                now_s=now_s,
                now_wall_s=now_wall_s,
                state=state,
                reason=reason,
            )
        )
        deadlines = [rules.next_check_s()]
        if health.healthy and stats.last_frame_monotonic_s is not None:
            deadlines.append(stats.last_frame_monotonic_s + stall_timeout_s)
        due = [d for d in deadlines if d is not None]
        with contextlib.suppress(TimeoutError):
            async with clock.timeout_at(min(due)) if due else contextlib.nullcontext():
                version = await reader.state_change(version)
