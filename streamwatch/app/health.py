"""/healthz's report: each part's health, read from the part that owns it when asked.

Health is per part: every camera (streaming with a frame younger than its stall_timeout_s, or
a file that finished: capture/health.py, the rule camera.offline follows too), the analysis
path (the cloud answering; or the device answering for it, "degraded"), every sink (not
failing right now), the outbox (its last commit made: otherwise new events are being lost),
the call budget (a fleet's shared budget answering; or this box on its local share, degraded).
The whole is "ok" when all of them are healthy, "degraded" when the box still does its job a
lesser way (the on-device fallback), and "failing" otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streamwatch.analysis.cloud_health import CloudHealth, CloudState
from streamwatch.analysis.fallback import AnalysisMode, FallbackReason
from streamwatch.app.budget_status import budget_health
from streamwatch.capture.health import camera_health

if TYPE_CHECKING:
    from streamwatch.app.runner import App


@dataclass(frozen=True, slots=True)
class PartHealth:
    healthy: bool  # False: /healthz answers 503
    detail: dict[str, Any]
    degraded: bool = False  # doing its job a lesser way (the device answering for the cloud)


def health(app: App) -> dict[str, Any]:
    """Every part's health, and whether the whole is healthy."""
    now_s = app.clock.monotonic_s()  # the clock of the frames' times (a replay's own)
    parts: dict[str, dict[str, PartHealth]] = {
        "cameras": {},
        "analyzer": {},
        "sinks": {},
        "outbox": {},
        "budget": {},
    }
    for name, reader in app.readers.items():
        stats = reader.stats
        camera = camera_health(stats, now_s, reader.camera.stall_timeout_s)
        age_s = stats.last_frame_age_s(now_s)
        parts["cameras"][name] = PartHealth(
            camera.healthy,
            {
                "state": str(stats.state),
                "reason": camera.reason,
                "fps_in": round(stats.fps_in, 1),
                "last_frame_age_s": None if age_s is None else round(age_s, 1),
                "reconnects": stats.reconnects,
                "failures": stats.failures,
                "restarts": stats.restarts,
                "given_up": stats.given_up,
                "last_error": stats.last_error,
            },
        )
    parts["analyzer"][app.analyzer.name] = analyzer_health(app)
    budget, budget_detail, budget_degraded = budget_health(app.budget)
    parts["budget"][budget] = PartHealth(True, budget_detail, degraded=budget_degraded)
    for name, counters in app.dispatcher.counters.items():
        pending = app.dispatcher.pending(name)
        failing = counters.last_error is not None and pending > 0
        parts["sinks"][name] = PartHealth(
            not failing,
            {
                "pending": pending,
                "dead_letters": counters.dead_lettered,
                "last_error": counters.last_error,
            },
        )
    writes = app.dispatcher.writes
    parts["outbox"][str(app.dispatcher.outbox.path)] = PartHealth(
        writes.healthy,
        {
            "write_errors": writes.errors,
            "events_lost": writes.lost,
            "dropped_full": app.dispatcher.dropped_full,
            "last_error": writes.last_error,
        },
    )
    every = [part for group in parts.values() for part in group.values()]
    status = "ok"
    if not all(part.healthy for part in every):
        status = "failing"
    elif any(part.degraded for part in every):
        status = "degraded"  # still doing its job: 200
    return {
        "status": status,
        **{
            group: {
                name: {"healthy": p.healthy, "degraded": p.degraded, **p.detail}
                for name, p in members.items()
            }
            for group, members in parts.items()
        },
    }


def analyzer_health(app: App) -> PartHealth:
    """The analysis path: the cloud answering (ok), the device answering for it (degraded),
    or nothing answering (failing: fallback "none" while the cloud cannot).

    The route's state is what the last call found; the cloud client's and the budget's own
    states tell it before any call does (a key refused at start, credits paused, the day's
    budget spent while no face was in view).
    """
    route = app.route.state
    if route.mode is AnalysisMode.LOCAL:
        return PartHealth(True, {"state": "ok", "mode": str(route.mode)})
    reason, detail = route.reason, route.detail
    cloud: CloudHealth | None = getattr(app.analyzer, "health", None)
    if reason is None and cloud is not None and cloud.state is not CloudState.OK:
        reason, detail = _CLOUD_REASONS[cloud.state], cloud.detail
    if reason is None and app.budget.state.spent:
        reason, detail = FallbackReason.DAILY_BUDGET, "the daily budget of calls is spent"
    if reason is None:
        return PartHealth(True, {"state": "ok", "mode": str(AnalysisMode.CLOUD)})
    fallback = app.settings.analyzer.fallback == "local"
    mode = AnalysisMode.FALLBACK if fallback else AnalysisMode.NONE
    return PartHealth(
        fallback,
        {
            "state": "degraded" if fallback else "failing",
            "mode": str(mode),
            "reason": str(reason),
            "detail": detail,
        },
        degraded=True,
    )


_CLOUD_REASONS = {
    CloudState.DEGRADED: FallbackReason.CIRCUIT_OPEN,
    CloudState.PAUSED: FallbackReason.CREDITS,
    CloudState.FAILING: FallbackReason.AUTH,
}
