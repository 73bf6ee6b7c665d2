"""/metrics: Prometheus metrics of a running App, computed at scrape time.

Nothing here keeps its own count of anything: every figure is read from the part that owns it
(the readers' CameraStats, the pipelines' counters, the budget, the cloud client's CallStats,
the dispatcher) when it is asked for, so the numbers cannot drift apart. None of it touches a
file or waits: the outbox's counts are kept in memory by the dispatcher.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from streamwatch.analysis.fallback import FallbackReason
from streamwatch.analysis.stats import CallStats
from streamwatch.app.budget_status import budget_metrics
from streamwatch.app.health import analyzer_health
from streamwatch.capture.health import camera_health
from streamwatch.histogram import LatencyHistogram

if TYPE_CHECKING:
    from streamwatch.app.runner import App


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
        region_detections = counter(
            "streamwatch_gate_region_detections",
            "Face-gate detections that looked only where something moved and around the "
            "tracked faces (the others saw the whole frame).",
            ["camera"],
        )
        signatures = counter(
            "streamwatch_signatures",
            "Appearance signatures computed: a track's first, and one when its face changed.",
            ["camera"],
        )
        events = counter("streamwatch_events", "Events by type.", ["camera", "type"])
        gate_latencies: dict[tuple[str, ...], LatencyHistogram] = {}
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
                ("remembered", c.answers_reused),
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
            signatures.add_metric([name], c.signatures)
            region_detections.add_metric([name], c.region_detections)
            for kind, value in c.events_by_type.items():
                events.add_metric([name, kind], value)
            gate_latencies[(name,)] = pipeline.gate_latency.snapshot()
        yield from (
            frames,
            dropped,
            reconnects,
            restarts,
            failures,
            up,
            age,
            gate,
            region_detections,
            calls,
            fallbacks,
            signatures,
            events,
        )
        yield histogram(
            "streamwatch_gate_latency_seconds",
            "Frame captured until the gates were done with it (its wait for the gate included).",
            gate_latencies,
            ["camera"],
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
