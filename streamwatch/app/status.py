"""/healthz and /metrics: what a supervisor and a scraper need to know, read at request time.

Nothing here keeps its own count of anything: every figure is read from the part that owns it
(the readers' CameraStats, the pipelines' counters, the budget, the cloud client's CallStats,
the dispatcher) when it is asked for, so the numbers cannot drift apart. None of it touches a
file or waits: the outbox's counts are kept in memory by the dispatcher.

Health is per part: every camera (streaming with a frame younger than its stall_timeout_s, or
a file that finished: capture/health.py, the rule camera.offline follows too), the analysis
path (the cloud answering; or the device answering for it, "degraded"), every sink (not
failing right now), the outbox (its last commit made: otherwise new events are being lost),
the call budget (a fleet's shared budget answering; or this box on its local share, degraded).
/healthz answers 200 with "ok" when all of them are healthy, 200 with "degraded" when the box
still does its job a lesser way (the on-device fallback), and 503 "failing" otherwise, with
the details as JSON.

Bound to loopback by default. Its camera errors name hosts and files, so another address needs
`status.token` (config/model.py), which every request must then carry: as
`Authorization: Bearer <token>` (what Prometheus sends) or `?token=<token>` (overlay/auth.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from streamwatch.analysis.client import CloudHealth, CloudState
from streamwatch.analysis.fallback import AnalysisMode, FallbackReason
from streamwatch.analysis.stats import CallStats
from streamwatch.app.budget_status import budget_health, budget_metrics
from streamwatch.capture.health import camera_health
from streamwatch.config.model import StatusSettings
from streamwatch.histogram import LatencyHistogram
from streamwatch.overlay.auth import TokenGate
from streamwatch.serving import start_site

if TYPE_CHECKING:
    from streamwatch.app.runner import App

STATUS_COOKIE_NAME = "streamwatch_status_session"


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


class AppCollector:
    """Prometheus metrics of a running App, computed at scrape time."""

    def __init__(self, app: App) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        app = self._app
        now_s = app.clock.monotonic_s()
        frames = counter("streamwatch_camera_frames", "Frames read per camera.", ["camera"])
        dropped = counter(
            "streamwatch_camera_frames_dropped",
            "Frames replaced by a newer one before the pipeline took them.",
            ["camera"],
        )
        reconnects = counter("streamwatch_camera_reconnects", "Reconnects per camera.", ["camera"])
        up = gauge(
            "streamwatch_camera_up",
            "1 when the camera is healthy: streaming with a fresh frame, or a file finished.",
            ["camera"],
        )
        restarts = counter(
            "streamwatch_camera_reader_restarts",
            "Reader threads that died and were started again.",
            ["camera"],
        )
        failures = counter(
            "streamwatch_camera_failures",
            "Unexpected capture errors (not an unreachable or stalled camera).",
            ["camera"],
        )
        age = gauge(
            "streamwatch_camera_last_frame_age_seconds", "Age of the newest frame.", ["camera"]
        )
        gate = counter(
            "streamwatch_gate_frames", "Frames by what the gates decided.", ["camera", "decision"]
        )
        calls = counter(
            "streamwatch_camera_calls",
            "Analysis calls per camera by outcome.",
            ["camera", "outcome"],
        )
        fallbacks = counter(
            "streamwatch_fallback_analyses",
            "Calls the cloud did not answer, by why; the device answered them unless "
            'analyzer.fallback = "none".',
            ["camera", "reason"],
        )
        events = counter("streamwatch_events", "Events by type.", ["camera", "type"])
        for name, reader in app.readers.items():
            stats = reader.stats
            frames.add_metric([name], stats.frames_read)
            dropped.add_metric([name], stats.frames_dropped)
            reconnects.add_metric([name], stats.reconnects)
            restarts.add_metric([name], stats.restarts)
            failures.add_metric([name], stats.failures)
            healthy = camera_health(stats, now_s, reader.camera.stall_timeout_s).healthy
            up.add_metric([name], 1.0 if healthy else 0.0)
            frame_age_s = stats.last_frame_age_s(now_s)
            if frame_age_s is not None:
                age.add_metric([name], frame_age_s)
        for name, pipeline in app.pipelines.items():
            c = pipeline.counters
            for decision, value in (
                ("still", c.dropped_motion),
                ("rate", c.dropped_rate),
                ("no_face", c.dropped_no_face),
                ("unfit", c.dropped_unfit),
                ("saved", c.calls_saved),
                ("candidate", c.candidates),
            ):
                gate.add_metric([name, decision], value)
            for outcome, value in (
                ("made", c.calls_made),
                ("dropped_stale", c.calls_dropped_stale),
                ("failed", c.analysis_errors),
            ):
                calls.add_metric([name, outcome], value)
            for reason in FallbackReason:
                fallbacks.add_metric([name, reason], c.fallbacks.get(reason, 0))
            for kind, value in c.events_by_type.items():
                events.add_metric([name, kind], value)
        yield from (
            frames,
            dropped,
            reconnects,
            restarts,
            failures,
            up,
            age,
            gate,
            calls,
            fallbacks,
            events,
        )

        analyzer = analyzer_health(app)
        degraded = gauge(
            "streamwatch_analyzer_degraded",
            "1 while the cloud cannot answer, for the reason it cannot (the device answers "
            'meanwhile unless analyzer.fallback is "none").',
            ["reason"],
        )
        for reason in FallbackReason:
            degraded.add_metric([reason], float(analyzer.detail.get("reason") == reason))
        yield degraded

        budget = app.budget.state
        yield gauge(
            "streamwatch_budget_calls_today",
            "Analysis calls made today (budget.timezone), by the account's boxes with a shared "
            "budget.",
            value=budget.calls_today,
        )
        if budget.left_today is not None:
            yield gauge(
                "streamwatch_budget_calls_left_today",
                "Calls left in the daily budget.",
                value=budget.left_today,
            )
        yield gauge(
            "streamwatch_calls_in_flight", "Analysis calls in flight.", value=budget.in_flight
        )
        yield from budget_metrics(app.budget)

        call_stats: CallStats | None = getattr(app.analyzer, "stats", None)
        if call_stats is not None:
            api = counter("streamwatch_api_calls", "Cloud API calls by outcome.", ["outcome"])
            api.add_metric(["ok"], call_stats.ok)
            api.add_metric(["no_face"], call_stats.no_face)
            for failure, value in call_stats.failed.items():
                api.add_metric([f"failed_{failure}"], value)
            yield api
            yield counter(
                "streamwatch_api_retries",
                "Cloud API attempts that repeated one.",
                value=call_stats.retried,
            )
            yield histogram(
                "streamwatch_api_latency_seconds",
                "Cloud API attempt latency.",
                {(): call_stats.latency},
            )

        pending = gauge("streamwatch_outbox_pending", "Events a sink has still to get.", ["sink"])
        delivered = counter("streamwatch_delivered", "Events delivered per sink.", ["sink"])
        dead = counter("streamwatch_dead_letters", "Events a sink refused for good.", ["sink"])
        latencies: dict[tuple[str, ...], LatencyHistogram] = {}
        for name, sink_counters in app.dispatcher.counters.items():
            pending.add_metric([name], app.dispatcher.pending(name))
            delivered.add_metric([name], sink_counters.delivered)
            dead.add_metric([name], sink_counters.dead_lettered)
            latencies[(name,)] = sink_counters.latency.snapshot()
        yield from (pending, delivered, dead)
        yield histogram(
            "streamwatch_delivery_latency_seconds",
            "Event decided until the sink acknowledged it.",
            latencies,
            ["sink"],
        )
        yield counter(
            "streamwatch_outbox_dropped_full",
            "Events dropped: the outbox was full.",
            value=app.dispatcher.dropped_full,
        )
        yield counter(
            "streamwatch_outbox_write_errors",
            "Attempts to commit an event to the outbox that failed.",
            value=app.dispatcher.writes.errors,
        )
        yield counter(
            "streamwatch_events_lost",
            "Events lost: the outbox could not commit them, however often tried.",
            value=app.dispatcher.writes.lost,
        )
        if app.history is not None:
            kept = app.history.stats
            yield gauge("streamwatch_history_events", "Events kept.", value=kept.events)
            yield gauge(
                "streamwatch_history_bytes", "Events and alarm pictures kept.", value=kept.bytes
            )
            dropped = counter(
                "streamwatch_history_dropped",
                "Events the history let go, by limit (age, count, size).",
                ["reason"],
            )
            for limit, count in kept.dropped.items():
                dropped.add_metric([str(limit)], count)
            yield dropped


def counter(
    name: str, documentation: str, labels: list[str] | None = None, *, value: float | None = None
) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value, labels=labels)


def gauge(
    name: str, documentation: str, labels: list[str] | None = None, *, value: float | None = None
) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value, labels=labels)


def histogram(
    name: str,
    documentation: str,
    series: dict[tuple[str, ...], LatencyHistogram],
    labels: list[str] | None = None,
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for label_values, latency in series.items():
        buckets = [
            ("+Inf" if bound == float("inf") else repr(bound), count)
            for bound, count in latency.cumulative()
        ]
        family.add_metric(list(label_values), buckets, latency.sum_s)
    return family


def build_status_app(app: App, settings: StatusSettings | None = None) -> web.Application:
    """The status server; with `settings.token`, every request needs it (overlay/auth.py)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AppCollector(app))

    async def healthz(_request: web.Request) -> web.Response:
        report = health(app)
        return web.json_response(report, status=200 if report["status"] == "ok" else 503)

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), content_type="text/plain", charset="utf-8"
        )

    middlewares = []
    if settings is not None and settings.token is not None:
        gate = TokenGate(
            settings.token.get_secret_value(),
            guards="status server",
            key="status.token",
            cookie_name=STATUS_COOKIE_NAME,
        )
        middlewares.append(gate.middleware)
    status_app = web.Application(middlewares=middlewares)
    status_app.router.add_get("/healthz", healthz)
    status_app.router.add_get("/metrics", metrics)
    return status_app


@asynccontextmanager
async def serve_status(app: App, settings: StatusSettings) -> AsyncIterator[str]:
    """Serve /healthz and /metrics; yields the base URL (the bound port when port is 0).
    CannotServe when the address cannot be bound."""
    runner = web.AppRunner(build_status_app(app, settings), access_log=None)
    await runner.setup()
    try:
        port = await start_site(
            runner, settings.host, settings.port, server="status", keys="status.host, status.port"
        )
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        yield f"http://{host}:{port}/"
    finally:
        await runner.cleanup()


__all__ = ["AppCollector", "PartHealth", "build_status_app", "health", "serve_status"]
