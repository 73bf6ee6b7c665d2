"""/healthz and /metrics: what a supervisor and a scraper need to know, read at request time.

Nothing here keeps its own count of anything: every figure is read from the part that owns it
(the readers' CameraStats, the pipelines' counters, the budget, the cloud client's CallStats,
the dispatcher and its outbox) when it is asked for, so the numbers cannot drift apart.

Health is per part. Critical parts: every camera (streaming, or a file that finished), the
analyzer (not refused for a bad key or spent credits), every sink (not failing right now).
/healthz answers 200 when all of them are healthy, 503 otherwise, with the details as JSON.
"""

from __future__ import annotations

import time
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

from streamwatch.analysis.stats import CallStats
from streamwatch.capture.reader import CameraState
from streamwatch.config.model import StatusSettings
from streamwatch.histogram import LatencyHistogram

if TYPE_CHECKING:
    from streamwatch.app.runner import App

HEALTHY_CAMERA_STATES = (CameraState.STREAMING, CameraState.FINISHED)


@dataclass(frozen=True, slots=True)
class PartHealth:
    healthy: bool
    detail: dict[str, Any]


def health(app: App) -> dict[str, Any]:
    """Every part's health, and whether the whole is healthy."""
    now_s = time.monotonic()
    parts: dict[str, dict[str, PartHealth]] = {"cameras": {}, "analyzer": {}, "sinks": {}}
    for name, reader in app.readers.items():
        stats = reader.stats
        age_s = stats.last_frame_age_s(now_s)
        parts["cameras"][name] = PartHealth(
            stats.state in HEALTHY_CAMERA_STATES,
            {
                "state": str(stats.state),
                "fps_in": round(stats.fps_in, 1),
                "last_frame_age_s": None if age_s is None else round(age_s, 1),
                "reconnects": stats.reconnects,
                "last_error": stats.last_error,
            },
        )
    cloud = getattr(app.analyzer, "health", None)
    if cloud is not None:
        parts["analyzer"][app.analyzer.name] = PartHealth(
            # Degraded (circuit open) heals by itself; paused (no credits) and failing (bad
            # key) need a person.
            str(cloud.state) in ("ok", "degraded"),
            {"state": str(cloud.state), "detail": cloud.detail},
        )
    else:
        parts["analyzer"][app.analyzer.name] = PartHealth(True, {"state": "ok"})
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
    healthy = all(part.healthy for group in parts.values() for part in group.values())
    return {
        "status": "ok" if healthy else "failing",
        **{
            group: {name: {"healthy": p.healthy, **p.detail} for name, p in members.items()}
            for group, members in parts.items()
        },
    }


class AppCollector:
    """Prometheus metrics of a running App, computed at scrape time."""

    def __init__(self, app: App) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        app = self._app
        now_s = time.monotonic()
        frames = counter("streamwatch_camera_frames", "Frames read per camera.", ["camera"])
        dropped = counter(
            "streamwatch_camera_frames_dropped",
            "Frames replaced by a newer one before the pipeline took them.",
            ["camera"],
        )
        reconnects = counter("streamwatch_camera_reconnects", "Reconnects per camera.", ["camera"])
        up = gauge(
            "streamwatch_camera_up", "1 when the camera streams (or a file finished).", ["camera"]
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
        events = counter("streamwatch_events", "Events by type.", ["camera", "type"])
        for name, reader in app.readers.items():
            stats = reader.stats
            frames.add_metric([name], stats.frames_read)
            dropped.add_metric([name], stats.frames_dropped)
            reconnects.add_metric([name], stats.reconnects)
            up.add_metric([name], 1.0 if stats.state in HEALTHY_CAMERA_STATES else 0.0)
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
                ("denied_budget", c.calls_denied_budget),
                ("failed", c.analysis_errors),
            ):
                calls.add_metric([name, outcome], value)
            for kind, value in c.events_by_type.items():
                events.add_metric([name, kind], value)
        yield from (frames, dropped, reconnects, up, age, gate, calls, events)

        budget = app.budget.state
        yield gauge(
            "streamwatch_budget_calls_today",
            "Analysis calls made today (UTC).",
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

        call_stats: CallStats | None = getattr(app.analyzer, "stats", None)
        if call_stats is not None:
            api = counter("streamwatch_api_calls", "Cloud API calls by outcome.", ["outcome"])
            api.add_metric(["ok"], call_stats.ok)
            api.add_metric(["no_face"], call_stats.no_face)
            for reason, value in call_stats.failed.items():
                api.add_metric([f"failed_{reason}"], value)
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
            value=app.dispatcher.outbox.counter("dropped_full"),
        )


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


def build_status_app(app: App) -> web.Application:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AppCollector(app))

    async def healthz(_request: web.Request) -> web.Response:
        report = health(app)
        return web.json_response(report, status=200 if report["status"] == "ok" else 503)

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), content_type="text/plain", charset="utf-8"
        )

    status_app = web.Application()
    status_app.router.add_get("/healthz", healthz)
    status_app.router.add_get("/metrics", metrics)
    return status_app


@asynccontextmanager
async def serve_status(app: App, settings: StatusSettings) -> AsyncIterator[str]:
    """Serve /healthz and /metrics; yields the base URL (the bound port when port is 0)."""
    runner = web.AppRunner(build_status_app(app), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/"
    finally:
        await runner.cleanup()


__all__ = ["AppCollector", "PartHealth", "build_status_app", "health", "serve_status"]
