"""One budget for every box of an account, kept in Redis (`budget.redis_url`, `budget.account`).

Every admission is one Lua script (scripts.py), atomic in Redis and one round trip: the
account's rate (at most max_calls in any period_s + rate_margin_s; a high call booking its slot
ahead, first come first served; a low one only at once, and while more than the reserve is
left), the day's cap (exact over every box: counted in the same step as it is checked), and
this box's count. A heartbeat every HEARTBEAT_S tells Redis the box is there and learns how
many boxes the account has.

When Redis cannot be reached (refused, reset, no answer within OP_TIMEOUT_S), the box neither
stops nor overspends: it takes its local share — `budget.local_share`, or 1 / the account's
boxes Redis last counted — of the account's rate and of what was left of its day, counted in
this box's ledger as always. /healthz says "degraded", a metric says so, one log line says so
(and one when it is back). It reconnects with back-off; its first script once Redis answers
adds the calls it made meanwhile to the day's total (scripts.py, `mine`). While its share is
unknown (no local_share, and Redis never answered since the start) it makes no cloud call.

No call here blocks the event loop: redis-py's asyncio client, with time-outs of its own and
one retry at once on a fresh connection; beyond that, the back-off is ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import os
import random
from collections.abc import Sequence
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from streamwatch.backoff import Backoff
from streamwatch.budget.backend import BackendHealth, BackendMode, DayCount
from streamwatch.budget.daycount import DayCounter
from streamwatch.budget.days import Days
from streamwatch.budget.denial import BudgetDenied, DenialReason
from streamwatch.budget.ledger import CallLedger
from streamwatch.budget.priority import Priority
from streamwatch.budget.scripts import ADMIT, HEARTBEAT, REFUND
from streamwatch.budget.share import LocalShare
from streamwatch.clock import SYSTEM_CLOCK, Clock
from streamwatch.config.budget import BudgetSettings

log = logging.getLogger("streamwatch.budget")

# One Redis command may take this long before Redis counts as unreachable.
OP_TIMEOUT_S = 0.5
HEARTBEAT_S = 10.0
# A box counts as one of the account's while its last heartbeat is this recent.
BOXES_HORIZON_S = 6 * HEARTBEAT_S
# Reconnecting: full-jitter back-off between these.
RECONNECT_INITIAL_S = 0.5
RECONNECT_MAX_S = 10.0
# The day's hash outlives the day by this much (a box reconciling just after midnight).
DAY_GRACE_S = 3600


class _Unreachable(Exception):
    """Redis did not answer; the cause is the client's error."""


class SharedBackend:
    """Use inside `async with` (the heartbeat runs meanwhile)."""

    def __init__(
        self,
        settings: BudgetSettings,
        *,
        node: str,
        ledger: CallLedger | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        assert settings.redis_url is not None, "a shared budget needs budget.redis_url"
        url = settings.redis_url.get_secret_value()
        self._settings = settings
        self._node = node
        self._clock = clock
        self._rng = rng or random.Random()
        self.where = _where(url)  # for logs: never the password
        self._days = Days.named(settings.timezone)
        self._own = DayCounter(lambda: self._days.day_of(clock.wall_s()), ledger)
        self._redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=OP_TIMEOUT_S,
            socket_connect_timeout=OP_TIMEOUT_S,
            # One retry at once, on a fresh connection (a pooled one may be from before a
            # restart); beyond that, our back-off, not the client's.
            retry=Retry(NoBackoff(), 1),
        )
        self._admit_script = self._redis.register_script(ADMIT)
        self._heartbeat_script = self._redis.register_script(HEARTBEAT)
        self._refund_script = self._redis.register_script(REFUND)
        prefix = f"streamwatch:{{{settings.account}}}"
        self._rate_key, self._boxes_key, self._day_prefix = (
            f"{prefix}:rate",
            f"{prefix}:boxes",
            f"{prefix}:day:",
        )
        self._field = f"box:{node}"
        self._ids = (f"{node}:{os.getpid()}:{n}" for n in itertools.count())
        self._wake = asyncio.Event()  # the keeper's: Redis just became unreachable
        self._keeper: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False
        self._refunds: set[asyncio.Task[None]] = set()
        self._known: tuple[date, int] | None = None  # the account's day total, last heard
        self._boxes: int | None = None
        self._share: LocalShare | None = None  # while Redis is unreachable
        self._detail = ""
        self.outages = 0
        self.reconciled_calls = 0
        self.round_trips = 0  # scripts sent to Redis (benchmarks: per admission)

    async def __aenter__(self) -> SharedBackend:
        log.info("budget shared by account %s at %s", self._settings.account, self.where)
        self._keeper = asyncio.create_task(self._keep_in_touch(), name="budget heartbeat")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # The backend protocol (backend.py).

    async def admit(self, priority: Priority, deadline_s: float) -> None:
        if self._share is None:
            try:
                await self._admit_shared(priority, deadline_s)
                return
            except _Unreachable as error:
                self._lost(error.__cause__)
        assert self._share is not None
        await self._share.admit(priority, deadline_s)

    def today(self) -> DayCount:
        if self._share is not None:
            return self._share.today()
        day, cap = self._own.day, self._settings.daily_max_calls
        calls = self._account_calls(day)
        return DayCount(day, calls, None if cap is None else max(0, cap - calls))

    @property
    def health(self) -> BackendHealth:
        return BackendHealth(
            BackendMode.SHARED if self._share is None else BackendMode.LOCAL_SHARE,
            detail=self._detail,
            account=self._settings.account,
            boxes=self._boxes,
            share=None if self._share is None else self._share.share,
            own_calls_today=self._own.calls,
            outages=self.outages,
            reconciled_calls=self.reconciled_calls,
        )

    async def aclose(self) -> None:
        """Idempotent: the App leaves both the budget and this."""
        if self._closed:
            return
        self._closed = True
        if self._keeper is not None:
            # The flag as well as the cancel: the keeper ends at its next step even if the
            # cancel were lost in a time-out that fired at the same moment (Python 3.11).
            self._closing = True
            self._wake.set()
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
        if self._refunds:
            await asyncio.wait(self._refunds, timeout=2 * OP_TIMEOUT_S)
        await self._own.flush()
        await self._redis.aclose()

    def _share_now(self) -> float | None:
        """This box's share of the account while Redis is unreachable (None: unknown)."""
        if self._settings.local_share is not None:
            return self._settings.local_share
        return None if not self._boxes else 1 / self._boxes

    # The account's budget, in Redis.

    async def _admit_shared(self, priority: Priority, deadline_s: float) -> None:
        settings = self._settings
        allowed = settings.max_calls - (settings.reserve if priority is Priority.LOW else 0)
        window_us = round((settings.period_s + settings.rate_margin_s) * 1e6)
        now_s = self._clock.monotonic_s()
        if now_s >= deadline_s:
            raise TimeoutError
        # A high call may book its slot ahead, up to its deadline; a low one fits now or not at
        # all (priority.py), holding no slot ahead that a high call would queue behind.
        ahead_us = round((deadline_s - now_s) * 1e6) if priority is Priority.HIGH else 0
        day, call_id = self._own.day, next(self._ids)
        cancels = _cancels_requested()
        status, total, wait_us, added = await self._run(
            self._admit_script,
            [self._rate_key, self._day_key(day)],
            [
                self._field,
                self._own.calls,
                self._day_expiry_s(day),
                allowed,
                window_us,
                ahead_us,
                -1 if settings.daily_max_calls is None else settings.daily_max_calls,
                call_id,
            ],
        )
        self._heard(day, int(total), int(added))
        if _cancels_requested() > cancels:
            # Cancelled while the reply came in, and the cancel swallowed on the way
            # (asyncio.wait_for in redis-py, Python 3.11): still a cancel.
            if status == "ok":
                self._give_back(day, call_id)
            raise asyncio.CancelledError
        match status:
            case "ok":
                await self._wait_for_slot(int(wait_us) / 1e6, day, call_id)
                self._own.add()
            case "spent":
                raise self._spent()
            case _:  # "wait": a high call's slot would come after its deadline; a low one's later
                raise TimeoutError

    async def _wait_for_slot(self, wait_s: float, day: date, call_id: str) -> None:
        if wait_s <= 0:
            return
        try:
            await asyncio.sleep(wait_s)
        except asyncio.CancelledError:
            self._give_back(day, call_id)
            raise

    def _give_back(self, day: date, call_id: str) -> None:
        """A call counted but never to be sent: its slot and its count go back."""
        refund = asyncio.create_task(self._refund(day, call_id))
        self._refunds.add(refund)
        refund.add_done_callback(self._refunds.discard)

    async def _refund(self, day: date, call_id: str) -> None:
        with contextlib.suppress(_Unreachable):  # then the count stays one high: never low
            await self._run(
                self._refund_script, [self._rate_key, self._day_key(day)], [self._field, call_id]
            )

    async def _keep_in_touch(self) -> None:
        """Heartbeats while Redis answers; reconnecting with back-off while it does not."""
        backoff = Backoff(RECONNECT_INITIAL_S, RECONNECT_MAX_S, rng=self._rng)
        delay_s = 0.0  # the first heartbeat at once: learn the account's boxes
        while not self._closing:
            if await self._sleep_unless_woken(delay_s):
                if self._closing:
                    return
                delay_s = backoff.next_delay_s()  # an admission just lost Redis
                continue
            try:
                await self._heartbeat()
                backoff.reset()
                delay_s = HEARTBEAT_S
            except _Unreachable as error:
                self._lost(error.__cause__)
                delay_s = backoff.next_delay_s()

    async def _sleep_unless_woken(self, delay_s: float) -> bool:
        """Sleep `delay_s`; True when Redis was lost meanwhile (`_lost` wakes it)."""
        self._wake.clear()
        # asyncio.wait, not a timeout: on 3.11 a cancel landing as the timeout fires is lost,
        # and aclose() would wait for this task forever.
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait([woken], timeout=delay_s)
        finally:
            woken.cancel()
        return self._wake.is_set()

    async def _heartbeat(self) -> None:
        day = self._own.day
        boxes, total, added = await self._run(
            self._heartbeat_script,
            [self._boxes_key, self._day_key(day)],
            [
                self._field,
                self._own.calls,
                self._day_expiry_s(day),
                self._node,
                round(BOXES_HORIZON_S * 1e6),
            ],
        )
        self._boxes = int(boxes)
        self._heard(day, int(total), int(added))

    async def _run(self, script: Any, keys: Sequence[str], args: Sequence[object]) -> Any:
        self.round_trips += 1
        try:
            # redis-py times each read and connect out at OP_TIMEOUT_S; this bounds the whole
            # (a retry on a fresh connection included).
            async with asyncio.timeout(3 * OP_TIMEOUT_S):
                return await script(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as error:
            raise _Unreachable() from error

    def _heard(self, day: date, total: int, added: int) -> None:
        """Redis answered: the account's day total; calls of this box it added just now."""
        # The heartbeat and admissions run on their own connections, so an older total can
        # be heard after a newer one; the day's count only grows but for refunds (and a share
        # reckoned one refund high errs on the safe side).
        total = max(total, self._account_calls(day))
        self._known = (day, total)
        self.reconciled_calls += added
        if self._share is not None:
            self._share = None
            self._detail = ""
            log.warning(
                "shared budget at %s back: %d calls made on this box's share meanwhile added "
                "to the account's day (%d calls today)",
                self.where,
                added,
                total,
            )

    def _lost(self, error: BaseException | None) -> None:
        kind = type(error).__name__ if error is not None else "no answer"
        self._detail = f"{self.where} unreachable ({kind})"
        if self._share is not None:
            return
        self.outages += 1
        share = self._share = LocalShare(
            self._settings,
            share=self._share_now(),
            own=self._own,
            account_calls=self._account_calls(self._own.day),
            clock=self._clock,
            why=self._detail,
        )
        left = share.left_then
        log.warning(
            "shared budget %s: this box takes %s until it is back",
            self._detail,
            "no cloud calls (its share is unknown: set budget.local_share)"
            if share.share is None
            else f"its local share ({share.share:.3g} of the account's rate"
            + ("" if left is None else f" and of the {left} calls left today")
            + ")",
        )
        self._wake.set()

    def _account_calls(self, day: date) -> int:
        known = self._known
        return known[1] if known is not None and known[0] == day else 0

    def _spent(self) -> BudgetDenied:
        return BudgetDenied(
            f"the account's daily budget of {self._settings.daily_max_calls} calls is spent; "
            f"calls resume at 00:00 {self._settings.timezone}",
            reason=DenialReason.DAILY_BUDGET_SPENT,
        )

    def _day_key(self, day: date) -> str:
        return f"{self._day_prefix}{day.isoformat()}"

    def _day_expiry_s(self, day: date) -> int:
        return math.ceil(self._days.end_s(day)) + DAY_GRACE_S


def _cancels_requested() -> int:
    task = asyncio.current_task()
    return 0 if task is None else task.cancelling()


def _where(url: str) -> str:
    """host:port/db of a Redis URL, for logs and health: never its password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"
