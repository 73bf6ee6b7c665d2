"""The budget's backends: priorities on one box, and one account's budget shared in a real Redis.

Every Redis here is a real redis-server on 127.0.0.1 (tests/support/redis_server.py), killed
and restarted where the test says so. On main there was no backend to share: each box kept
its own rate and day, and the same calls here made N times the account's budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from streamwatch.budget import (
    BackendMode,
    BudgetDenied,
    CallBudget,
    CallLedger,
    DenialReason,
    Priority,
)
from streamwatch.budget.days import Days
from streamwatch.budget.shared import SharedBackend
from streamwatch.config import BudgetSettings

from .support.redis_server import RedisServer, redis_server

TIMEOUT_S = 20


def _settings(**overrides: Any) -> BudgetSettings:
    base: dict[str, Any] = {"camera_interval_s": 0, "max_age_s": 5.0, "rate_margin_s": 0.0}
    return BudgetSettings(**{**base, **overrides})


@asynccontextmanager
async def _boxes(
    server: RedisServer, count: int, tmp_path: Path, **overrides: Any
) -> AsyncIterator[list[SharedBackend]]:
    """`count` boxes of one account, each with its own client and ledger."""
    settings = _settings(redis_url=server.url, **overrides)
    async with AsyncExitStack() as stack:
        boxes = [
            await stack.enter_async_context(
                SharedBackend(
                    settings, node=f"box{n}", ledger=CallLedger(tmp_path / f"box{n}.json")
                )
            )
            for n in range(count)
        ]
        yield boxes


async def _eventually(condition: Callable[[], bool]) -> None:
    """Until `condition` holds: for what a backend does on its own and announces to nobody
    (reconnecting on its back-off)."""
    async with asyncio.timeout(TIMEOUT_S):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def _admit(box: SharedBackend | Any, priority: Priority, within_s: float = 5.0) -> float:
    """Admit one call; the time it was let go."""
    await box.admit(priority, time.monotonic() + within_s)
    return time.monotonic()


async def test_on_one_box_low_calls_leave_the_reserve_to_high_ones() -> None:
    budget = CallBudget(_settings(max_calls=2, period_s=60, reserved_calls=1))
    backend = budget.backend
    await _admit(backend, Priority.LOW)
    with pytest.raises(TimeoutError):  # the last call of the minute is kept for a new face
        await _admit(backend, Priority.LOW, within_s=0.2)
    async with asyncio.timeout(1):
        await _admit(backend, Priority.HIGH)
    assert budget.state.calls_today == 2


async def test_across_boxes_low_calls_leave_the_reserve_to_high_ones(tmp_path: Path) -> None:
    async with (
        redis_server() as server,
        _boxes(server, 2, tmp_path, max_calls=2, period_s=60, reserved_calls=1) as (a, b),
    ):
        await _admit(a, Priority.LOW)
        with pytest.raises(TimeoutError):
            await _admit(b, Priority.LOW, within_s=0.2)
        async with asyncio.timeout(1):
            await _admit(b, Priority.HIGH)  # not queued behind anything
        with pytest.raises(TimeoutError):  # the account's minute is spent, for both
            await _admit(a, Priority.HIGH, within_s=0.2)


async def test_the_accounts_rate_holds_over_every_box(tmp_path: Path) -> None:
    """Three boxes wanting 10 calls each in 1.5 s; the account allows 2 per 0.5 s."""
    async with (
        redis_server() as server,
        _boxes(server, 3, tmp_path, max_calls=2, period_s=0.5) as boxes,
    ):
        outcomes = await asyncio.gather(
            *(_admit(box, Priority.HIGH, within_s=1.5) for box in boxes for _ in range(10)),
            return_exceptions=True,
        )
    granted = sorted(o for o in outcomes if isinstance(o, float))
    assert all(isinstance(o, float | TimeoutError) for o in outcomes)
    # Slots are booked on Redis's clock and slept on each box's: allow the scheduling jitter.
    busiest = max(sum(1 for u in granted if t <= u < t + 0.5 - 0.02) for t in granted)
    assert busiest <= 2
    assert 6 <= len(granted) <= 8  # 2 per 0.5 s for 1.5 s (+ the first window's 2)


async def test_the_daily_cap_is_exact_over_every_box(tmp_path: Path) -> None:
    async with (
        redis_server() as server,
        _boxes(server, 3, tmp_path, max_calls=100, daily_max_calls=5) as boxes,
    ):
        outcomes = await asyncio.gather(
            *(_admit(box, Priority.HIGH) for box in boxes for _ in range(4)),
            return_exceptions=True,
        )
        denied = [o for o in outcomes if isinstance(o, BudgetDenied)]
        assert len(outcomes) - len(denied) == 5
        assert {d.reason for d in denied} == {DenialReason.DAILY_BUDGET_SPENT}
        assert sum(box.health.own_calls_today for box in boxes) == 5


async def test_two_accounts_on_one_redis_do_not_share(tmp_path: Path) -> None:
    async with redis_server() as server, AsyncExitStack() as stack:

        def box(account: str) -> SharedBackend:
            settings = _settings(
                redis_url=server.url, account=account, max_calls=1, period_s=60, daily_max_calls=1
            )
            return SharedBackend(settings, node="box")

        bar = await stack.enter_async_context(box("bar"))
        cafe = await stack.enter_async_context(box("cafe"))
        await _admit(bar, Priority.HIGH)
        with pytest.raises(BudgetDenied):
            await _admit(bar, Priority.HIGH)
        async with asyncio.timeout(1):
            await _admit(cafe, Priority.HIGH)  # its own rate and its own day
        assert (bar.today().calls, cafe.today().calls) == (1, 1)


async def test_redis_killed_the_box_goes_on_its_share_and_reconciles_when_it_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "streamwatch.budget")
    async with (
        redis_server() as server,
        _boxes(
            server, 2, tmp_path, max_calls=4, period_s=0.2, daily_max_calls=20, local_share=0.5
        ) as (a, b),
    ):
        for _ in range(3):
            await _admit(a, Priority.HIGH)
        await _admit(b, Priority.HIGH)
        assert b.today().calls == 4  # the account's, as b's last admission heard it
        await server.kill()
        # Redis is gone: no crash, no overspend. 16 calls were left: 8 for each box's share.
        outcomes = await asyncio.gather(
            *(_admit(a, Priority.HIGH, within_s=3.0) for _ in range(12)),
            return_exceptions=True,
        )
        made = [o for o in outcomes if isinstance(o, float)]
        assert len(made) == 8
        assert {type(o) for o in outcomes if not isinstance(o, float)} == {BudgetDenied}
        # Half the account's rate: 2 calls per 0.2 s.
        assert max(sum(1 for u in made if t <= u < t + 0.2 - 0.02) for t in made) <= 2
        assert a.health.mode is BackendMode.LOCAL_SHARE and a.health.degraded
        assert a.health.share == 0.5 and a.health.outages == 1
        assert a.today().left == 0
        lost = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(lost) == 1  # one line for the change, not one per call
        await server.start()  # a Redis restarted without its data
        await _eventually(lambda: a.health.mode is BackendMode.SHARED)  # its own back-off
        await _admit(b, Priority.HIGH)  # b's first script after the restart adds its own 1
        client = server.client()
        try:
            day = await client.hgetall(f"streamwatch:{{default}}:day:{a.today().day}")
        finally:
            await client.aclose()
    # 3 + 8 calls of a, 1 + 1 of b: the account's day is whole again.
    assert day == {"total": "13", "box:box0": "11", "box:box1": "2"}
    assert a.health.reconciled_calls == 11
    assert any("back: 11 calls" in r.getMessage() for r in caplog.records)


async def test_with_redis_down_from_the_start_and_no_share_no_cloud_call_is_made(
    tmp_path: Path,
) -> None:
    async with redis_server() as server:
        url = server.url
    settings = _settings(redis_url=url)
    async with SharedBackend(settings, node="box") as box:
        with pytest.raises(BudgetDenied) as denied:
            await _admit(box, Priority.HIGH)
        assert denied.value.reason is DenialReason.SHARE_UNKNOWN
        assert box.health.mode is BackendMode.LOCAL_SHARE
    async with SharedBackend(settings.model_copy(update={"local_share": 0.5}), node="box") as box:
        await _admit(box, Priority.HIGH)  # its configured share
        assert box.health.own_calls_today == 1


async def test_a_booked_slot_given_up_is_given_back() -> None:
    """A call cancelled while it waits for the slot it booked (a stop, a reload) is never
    sent: the slot and the count go back to the account."""
    async with redis_server() as server:
        settings = _settings(redis_url=server.url, max_calls=1, period_s=5.0)
        async with SharedBackend(settings, node="box") as box:
            await _admit(box, Priority.HIGH)
            waiting = asyncio.create_task(_admit(box, Priority.HIGH, within_s=10))
            await _eventually(lambda: box.today().calls == 2)  # its slot, 5 s ahead, booked
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        # Leaving the backend waited for the refund.
        client = server.client()
        try:
            day = await client.hgetall(f"streamwatch:{{default}}:day:{box.today().day}")
            booked = await client.zcard("streamwatch:{default}:rate")
        finally:
            await client.aclose()
    assert day == {"total": "1", "box:box": "1"} and booked == 1
    assert box.health.own_calls_today == 1


def test_the_day_starts_at_midnight_in_the_accounts_time_zone() -> None:
    """Main counted UTC days: a Paris account's day ended at 01:00 or 02:00 local time."""
    paris = Days.named("Europe/Paris")
    before = datetime(2026, 7, 14, 21, 59, tzinfo=UTC).timestamp()  # 23:59 in Paris (CEST)
    after = datetime(2026, 7, 14, 22, 1, tzinfo=UTC).timestamp()  # 00:01 the next day
    assert paris.day_of(before) == date(2026, 7, 14)
    assert paris.day_of(after) == date(2026, 7, 15)
    assert paris.end_s(date(2026, 7, 14)) == datetime(2026, 7, 14, 22, tzinfo=UTC).timestamp()
    with pytest.raises(ValueError, match="unknown time zone"):
        BudgetSettings(timezone="Europe/Pariss")


async def test_the_redis_password_is_never_in_a_log_line_or_the_health(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with redis_server() as server:
        port = server.port
    url = f"redis://:hunter2-not-a-real-one@127.0.0.1:{port}/0"  # nothing listens there now
    settings = _settings(redis_url=url, local_share=0.5)
    async with SharedBackend(settings, node="box") as box:
        await _admit(box, Priority.HIGH)  # on its share: Redis is unreachable
        health = box.health
    assert health.degraded and f"127.0.0.1:{port}/0 unreachable" in health.detail
    assert "hunter2" not in caplog.text and "hunter2" not in repr(health)
    assert "hunter2" not in repr(settings)
