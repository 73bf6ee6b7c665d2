"""The call budget's part of /healthz and /metrics (status.py asks; nothing is counted here).

With a shared budget (budget.redis_url) the health says whether the account's budget in Redis
answers ("shared") or this box runs on its local share ("local_share": degraded, still doing
its job, 200), how many boxes the account has and this box's share; the metrics say the same
for a scraper, and count outages and the calls reconciled after them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from streamwatch.budget.backend import BackendMode
from streamwatch.budget.limiter import CallBudget


def budget_health(budget: CallBudget) -> tuple[str, dict[str, Any], bool]:
    """(the part's name, its details, degraded)."""
    health, state = budget.health, budget.state
    detail: dict[str, Any] = {
        "state": "degraded" if health.degraded else "ok",
        "mode": str(health.mode),
        "calls_today": state.calls_today,
        "left_today": state.left_today,
    }
    if health.mode is BackendMode.LOCAL:
        return "local", detail, False
    detail |= {
        "account": health.account,
        "boxes": health.boxes,
        "share": health.share,
        "own_calls_today": health.own_calls_today,
        "outages": health.outages,
        "reconciled_calls": health.reconciled_calls,
        "detail": health.detail,
    }
    return "shared", detail, health.degraded


def budget_metrics(budget: CallBudget) -> Iterator[Metric]:
    health = budget.health
    if health.mode is BackendMode.LOCAL:
        return
    yield GaugeMetricFamily(
        "streamwatch_budget_shared_up",
        "1 while the account's shared budget (Redis) answers; 0 while this box runs on its "
        "local share.",
        value=0.0 if health.degraded else 1.0,
    )
    yield CounterMetricFamily(
        "streamwatch_budget_shared_outages",
        "Times the shared budget became unreachable.",
        value=health.outages,
    )
    yield CounterMetricFamily(
        "streamwatch_budget_reconciled_calls",
        "Calls made on the local share, added to the account's day once Redis answered.",
        value=health.reconciled_calls,
    )
    yield GaugeMetricFamily(
        "streamwatch_budget_own_calls_today",
        "Calls this box made today (the account's are streamwatch_budget_calls_today).",
        value=health.own_calls_today,
    )
    if health.boxes is not None:
        yield GaugeMetricFamily(
            "streamwatch_budget_boxes",
            "The account's boxes, as Redis last counted them (heartbeats of the last minute).",
            value=health.boxes,
        )
