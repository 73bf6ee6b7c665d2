"""Which analyzer answers a call: the cloud, under the budget, or the device when it cannot.

The one place where "the cloud could not answer this face" becomes "ask the on-device analyzer
instead" (shared/DESIGN.md, "Fallback is a decision, not a second pipeline"). A call goes

    async with route.call(camera, frame_monotonic_s) as call:  # budget: pacing, a slot
        answer = await call.answer(image)                       # cloud, else local

BudgetDenied(STALE) comes out of `call` or `answer` only when the frame got too old before a
request could even be sent: a busy budget, not a broken cloud; the call policy offers the face
again.
Everything else the cloud does instead of answering — refused (bad key, out of credits,
circuit open, daily budget spent, a fleet's shared budget unreachable with this box's share
unknown), failed after its retries, no answer within `max_age_s` of the frame — makes `answer`
ask the local analyzer (`analyzer.fallback = "local"`), and the `Answer` says which analyzer
gave it and why. With `fallback = "none"` the answer has no analysis: nothing can analyse, and
the route's state says so. Given the faces the face gate found in the image, the device
describes those instead of looking for them again (its detector is the gate's: the same
faces, one detection less a call).

The route keeps the state the status page, the metrics and the overlay show (cloud answering,
on-device fallback and why, nothing analysing); each answer carries the state its call left,
and each camera's pipeline turns a change of it into analyzer.degraded / analyzer.recovered
events for that camera. With the local analyzer configured there is no budget and no state to
change: every call is local, and free; what rations it is the device's CPU, the analyzer's
workers (analyzer.local_workers), never the cloud's call budget.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from streamwatch.analysis.analyzer import AnalyzerError, DeviceAnalyzer
from streamwatch.analysis.client import CloudAnalyzer
from streamwatch.analysis.model import Face, FaceAnalysis
from streamwatch.budget.limiter import BudgetDenied, CallBudget, CallPermit, DenialReason
from streamwatch.budget.priority import Priority
from streamwatch.clock import Clock

log = logging.getLogger("streamwatch.analysis")


class FallbackReason(StrEnum):
    """Why the cloud did not answer a call."""

    AUTH = "auth"  # key or URL refused: calls stopped until restart
    CREDITS = "credits"  # out of credits: calls paused for credits_pause_s
    CIRCUIT_OPEN = "circuit_open"  # failures in a row: calls paused for breaker_cooldown_s
    DAILY_BUDGET = "daily_budget"  # the day's calls are spent
    SHARED_BUDGET = "shared_budget"  # the fleet's budget unreachable, this box's share unknown
    FAILED = "failed"  # the call failed after its retries
    TOO_LATE = "too_late"  # no answer within max_age_s of the frame


class AnalysisMode(StrEnum):
    CLOUD = "cloud"  # the cloud answered the last call
    FALLBACK = "fallback"  # the device answers while the cloud cannot
    NONE = "none"  # the cloud cannot answer and no fallback is configured
    LOCAL = "local"  # the local analyzer is the configured one


@dataclass(frozen=True, slots=True)
class AnalysisState:
    mode: AnalysisMode
    reason: FallbackReason | None = None
    detail: str = ""  # what the cloud said (never the key)

    @property
    def degraded(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True, slots=True)
class Answer:
    analysis: FaceAnalysis | None  # None: nobody could analyse (fallback "none")
    state: AnalysisState  # the route's state as this call left it
    fallback: FallbackReason | None = None  # why the cloud did not answer this call


class PendingCall:
    """One admitted call: `answer` it once."""

    def __init__(
        self,
        route: AnalysisRoute,
        permit: CallPermit | None,
        *,
        deadline_s: float,
        denied: BudgetDenied | None = None,
    ) -> None:
        self._route = route
        self._permit = permit
        self._deadline_s = deadline_s  # an answer after this describes a stale frame
        self._denied = denied  # the budget refused the call before it was admitted

    async def answer(self, image: np.ndarray, found: Sequence[Face] | None = None) -> Answer:
        """`found`: the faces the face gate found in `image`; the device describes them
        instead of looking for them again (None: it looks)."""
        route, cloud = self._route, self._route.cloud
        if cloud is None:
            return Answer(await route.local_analyze(image, found), route.state)
        if self._permit is None:
            assert self._denied is not None
            return await route.fall_back(image, _refused(self._denied), str(self._denied), found)
        permit = self._permit
        try:
            async with route.clock.timeout_at(self._deadline_s):
                analysis = await cloud.analyze(image, permit=permit)
        except (TimeoutError, BudgetDenied) as error:
            if isinstance(error, BudgetDenied) and error.reason is not DenialReason.STALE:
                return await route.fall_back(image, _refused(error), str(error), found)
            if permit.attempts == 0:
                # Still waiting for the rate when the frame got too old: a busy budget, not
                # a cloud that fails. Dropped, as a candidate the pacing held too long.
                raise BudgetDenied(
                    f"candidate older than {route.max_age_s:g} s dropped before it was sent",
                    reason=DenialReason.STALE,
                ) from None
            return await route.fall_back(
                image, FallbackReason.TOO_LATE, f"no answer within {route.max_age_s:g} s", found
            )
        except AnalyzerError as error:
            return await route.fall_back(image, _reason(error), str(error), found)
        return Answer(analysis, route.settle(AnalysisState(AnalysisMode.CLOUD)))


class AnalysisRoute:
    """Calls to `cloud` (None: the local analyzer is the configured one) with `local` as the
    fallback (None: fallback "none")."""

    def __init__(
        self,
        *,
        cloud: CloudAnalyzer | None,
        local: DeviceAnalyzer | None,
        budget: CallBudget,
        clock: Clock,
        max_age_s: float,
    ) -> None:
        if cloud is None and local is None:
            raise ValueError("an AnalysisRoute needs an analyzer")
        self.cloud = cloud
        self._local = local
        self._budget = budget
        self.clock = clock
        self.max_age_s = max_age_s
        self._state = AnalysisState(AnalysisMode.CLOUD if cloud else AnalysisMode.LOCAL)

    @property
    def name(self) -> str:
        """The configured analyzer's name ("ailab", "local")."""
        analyzer = self.cloud or self._local
        assert analyzer is not None
        return analyzer.name

    @property
    def state(self) -> AnalysisState:
        return self._state

    @asynccontextmanager
    async def call(
        self, camera: str, frame_monotonic_s: float, priority: Priority = Priority.HIGH
    ) -> AsyncIterator[PendingCall]:
        """Admit one call of `priority` for a frame of `camera` taken at `frame_monotonic_s`.

        Raises BudgetDenied(STALE) when the frame would be older than max_age_s first.
        """
        deadline_s = frame_monotonic_s + self.max_age_s
        if self.cloud is None:  # the local analyzer is free: no budget
            yield PendingCall(self, None, deadline_s=deadline_s)
            return
        async with AsyncExitStack() as stack:
            permit: CallPermit | None = None
            refused: BudgetDenied | None = None
            try:
                permit = await stack.enter_async_context(
                    self._budget.call(camera, frame_monotonic_s, priority)
                )
            except BudgetDenied as denied:
                if denied.reason is DenialReason.STALE:
                    raise
                refused = denied  # no call today, or none while the budget is unknown: the device
            yield PendingCall(self, permit, deadline_s=deadline_s, denied=refused)

    # Used by PendingCall.

    async def local_analyze(
        self, image: np.ndarray, found: Sequence[Face] | None = None
    ) -> FaceAnalysis:
        """The device's analysis of `image`; of the faces `found` there, when given."""
        assert self._local is not None
        if found is None:
            return await self._local.analyze(image)
        return await self._local.describe(image, found)

    async def fall_back(
        self,
        image: np.ndarray,
        reason: FallbackReason,
        detail: str,
        found: Sequence[Face] | None = None,
    ) -> Answer:
        if self._local is None:
            return Answer(
                None, self.settle(AnalysisState(AnalysisMode.NONE, reason, detail)), reason
            )
        state = self.settle(AnalysisState(AnalysisMode.FALLBACK, reason, detail))
        return Answer(await self.local_analyze(image, found), state, reason)

    def settle(self, state: AnalysisState) -> AnalysisState:
        """Take the state of the latest call (logged when it changes); returns it."""
        previous, self._state = self._state, state
        if (state.mode, state.reason) != (previous.mode, previous.reason):
            if state.degraded:
                log.warning(
                    "face analysis degraded (%s): %s; %s",
                    state.reason,
                    state.detail,
                    "the on-device analyzer answers meanwhile"
                    if state.mode is AnalysisMode.FALLBACK
                    else 'nothing analyses faces meanwhile (analyzer.fallback = "none")',
                )
            else:
                log.warning("face analysis recovered: the cloud answers again")
        return state


def _refused(denied: BudgetDenied) -> FallbackReason:
    """Why the budget let no request go (a stale frame is no reason to fall back)."""
    match denied.reason:
        case DenialReason.DAILY_BUDGET_SPENT | DenialReason.STALE:
            return FallbackReason.DAILY_BUDGET
        case DenialReason.SHARE_UNKNOWN:
            return FallbackReason.SHARED_BUDGET


def _reason(error: AnalyzerError) -> FallbackReason:
    match error.reason:
        case "auth":
            return FallbackReason.AUTH
        case "credits":
            return FallbackReason.CREDITS
        case "circuit_open":
            return FallbackReason.CIRCUIT_OPEN
        case _:
            return FallbackReason.FAILED
