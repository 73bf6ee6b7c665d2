"""The call budget: the shared rate, the per-camera interval, the daily cap and its ledger,
priorities, and candidates too old to send."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from pathlib import Path

import pytest

from streamwatch.budget import BudgetDenied, CallBudget, CallLedger, DenialReason, Priority
from streamwatch.budget.rate import SlidingWindow
from streamwatch.clock import MediaClock
from streamwatch.config import BudgetSettings


async def _one_call(budget: CallBudget, camera: str) -> None:
    async with budget.call(camera, time.monotonic()) as permit:
        await permit.attempt()


async def test_budget_admits_max_calls_per_period_and_holds_the_next() -> None:
    budget = CallBudget(BudgetSettings(max_calls=2, period_s=60, camera_interval_s=0, max_age_s=60))
    for camera in ("a", "b"):
        async with asyncio.timeout(5):
            await _one_call(budget, camera)
    # The third call in the same minute must wait (a failure guard, not a speed measure).
    third = asyncio.create_task(_one_call(budget, "c"))
    done, _ = await asyncio.wait([third], timeout=0.3)
    assert not done
    third.cancel()
    assert budget.calls_made == 2


async def test_a_call_cancelled_while_waiting_gives_its_slot_back() -> None:
    """Main leaked the slot in flight when a call was cancelled waiting for the rate: after
    max_concurrent such cancellations (four camera-only SIGHUPs) no call was ever admitted."""
    settings = BudgetSettings(
        max_calls=1, period_s=60, camera_interval_s=0, max_age_s=60, max_concurrent=2
    )
    budget = CallBudget(settings)
    await _one_call(budget, "a")  # the rate is spent for a minute: the next ones wait
    for camera in ("b", "c", "d", "e"):
        waiting = asyncio.create_task(_one_call(budget, camera))
        await asyncio.sleep(0)  # let it take its slot and start waiting
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    assert budget.state.in_flight == 0
    async with (
        asyncio.timeout(5),
        budget.call("f", time.monotonic()),
        budget.call("g", time.monotonic()),
    ):
        assert budget.state.in_flight == 2  # both slots are free again


async def test_a_permit_counts_only_requests_sent() -> None:
    budget = CallBudget(BudgetSettings(camera_interval_s=0, period_s=0.01, max_calls=10))
    async with budget.call("a", time.monotonic()):
        pass  # the client refused the call before sending anything: not billed
    assert budget.calls_made == 0 and budget.state.calls_today == 0
    async with budget.call("a", time.monotonic()) as permit:
        await permit.attempt()
        await permit.attempt()  # a retry is a request too: same rate, same ledger
    assert permit.attempts == 2 and budget.state.calls_today == 2


async def test_the_daily_cap_is_checked_again_after_waiting_for_the_rate() -> None:
    """Main checked the cap only before waiting: daily_max_calls = 2 and three cameras made
    five calls."""
    settings = BudgetSettings(
        daily_max_calls=2, max_calls=1, period_s=0.05, camera_interval_s=0, max_age_s=60
    )
    budget = CallBudget(settings)
    outcomes = await asyncio.gather(
        *(_one_call(budget, camera) for camera in ("a", "b", "c", "d", "e")),
        return_exceptions=True,
    )
    denied = [o for o in outcomes if isinstance(o, BudgetDenied)]
    assert budget.state.calls_today == 2
    assert len(denied) == 3
    assert all(d.reason is DenialReason.DAILY_BUDGET_SPENT for d in denied)


async def test_a_candidate_that_cannot_go_within_max_age_is_dropped_not_sent_late() -> None:
    budget = CallBudget(BudgetSettings(max_calls=1, period_s=60, max_age_s=0.2))
    await _one_call(budget, "a")
    with pytest.raises(BudgetDenied) as denied:
        async with budget.call("b", time.monotonic()) as permit:
            await permit.attempt()
            pytest.fail("a stale candidate was sent")
    assert denied.value.reason == "stale"
    assert budget.calls_made == 1


async def test_a_spent_daily_budget_stops_calls_and_says_so_until_the_next_day() -> None:
    day = [date(2026, 11, 24)]
    settings = BudgetSettings(daily_max_calls=2, camera_interval_s=0, period_s=0.01)
    budget = CallBudget(settings, today=lambda: day[0])
    for _ in range(2):
        await _one_call(budget, "a")
    assert budget.state.spent and budget.state.left_today == 0
    with pytest.raises(BudgetDenied, match="daily budget of 2 calls spent"):
        await _one_call(budget, "a")
    day[0] = date(2026, 11, 25)
    assert not budget.state.spent
    await _one_call(budget, "a")


async def test_one_camera_is_held_to_its_interval() -> None:
    budget = CallBudget(BudgetSettings(max_calls=100, camera_interval_s=60, max_age_s=0.3))
    await _one_call(budget, "a")
    await _one_call(budget, "b")  # another camera is not held
    with pytest.raises(BudgetDenied, match="older than"):
        await _one_call(budget, "a")


async def test_the_days_calls_survive_a_restart_and_a_new_day_starts_from_zero(
    tmp_path: Path,
) -> None:
    day = [date(2026, 11, 24)]
    settings = BudgetSettings(daily_max_calls=2, camera_interval_s=0, period_s=0.01)

    def started() -> CallBudget:
        return CallBudget(settings, today=lambda: day[0], ledger=CallLedger(tmp_path / "b.json"))

    async with started() as budget:  # leaving it waits for the ledger's writes
        for _ in range(2):
            await _one_call(budget, "a")
    restarted = started()
    assert restarted.state.calls_today == 2 and restarted.state.spent
    with pytest.raises(BudgetDenied, match="daily budget of 2 calls spent"):
        await _one_call(restarted, "a")
    day[0] = date(2026, 11, 25)
    assert started().state.calls_today == 0


def test_the_ledger_keeps_the_highest_count_of_the_day(tmp_path: Path) -> None:
    """Ledger writes run on worker threads and may finish out of order."""
    ledger = CallLedger(tmp_path / "b.json")
    day = date(2026, 11, 24)
    ledger.record(day, 5)
    ledger.record(day, 4)  # a write that started earlier and finished later
    assert CallLedger(tmp_path / "b.json").calls_on(day) == 5
    ledger.record(date(2026, 11, 25), 1)  # a new day starts low
    assert CallLedger(tmp_path / "b.json").calls_on(date(2026, 11, 25)) == 1


def test_an_unreadable_ledger_is_reported_and_the_day_counted_from_zero(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "budget.json"
    path.write_text('{"day": "2026-11-24", "calls": "many"}')
    assert CallLedger(path).calls_on(date(2026, 11, 24)) == 0
    assert f"{path} unreadable" in caplog.text


async def test_a_low_call_goes_at_once_or_not_at_all_but_its_retry_waits_its_turn() -> None:
    """A low call waiting for the rate would hold its camera's call loop while a new face
    waits behind it; a retry of a call already sent must not be dropped (it would turn a
    provider's 5xx into a "too late" answer)."""
    budget = CallBudget(BudgetSettings(max_calls=2, period_s=0.3, camera_interval_s=0, max_age_s=5))
    async with budget.call("a", time.monotonic(), Priority.LOW) as permit:
        await permit.attempt()  # 1 of 2 used: more than the reserve of 1 was left
        await _one_call(budget, "b")  # a new face's call takes the other
        await permit.attempt()  # its retry waits for the window, it is not dropped
    assert permit.attempts == 2 and budget.calls_made == 3
    with pytest.raises(BudgetDenied, match="older than"):
        async with budget.call("c", time.monotonic(), Priority.LOW) as low:
            await low.attempt()  # the window is full: dropped at once, not waited for


async def test_a_window_on_media_time_lets_a_call_go_when_the_first_leaves_it() -> None:
    # Main dropped a grant from the window at `now - period` but retried at `grant + period`:
    # at 3.4 s of media, 3.4 - 3 < 0.4 in floating point, so the grant of 0.4 s stayed in the
    # window while the retry time had come: `streamwatch replay` with one call per 3 s spun a
    # core forever on the ASL clip.
    clock = MediaClock(fps=15)
    window = SlidingWindow(max_calls=1, period_s=3.0, clock=clock)
    clock.advance_to(0.4)
    await window.acquire()
    clock.advance_to(3.4)
    assert window.grant(Priority.HIGH) is None  # counted now (main: "retry at 3.4", now)
    assert window.grant(Priority.HIGH) == 3.4 + 3.0
