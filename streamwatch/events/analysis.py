"""The analysis path's state as one camera's calls see it → analyzer.degraded / recovered.

A camera tells its subscribers when its faces start being answered by the device because the
cloud cannot (or, with `analyzer.fallback = "none"`, by nobody), when the reason changes, and
when the cloud answers again. Each camera reports what its own calls found: a camera with no
face in view has nothing to report.
"""

from __future__ import annotations

from streamwatch.analysis.analyzer import LOCAL_ANALYZER
from streamwatch.analysis.fallback import AnalysisMode, AnalysisState
from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event


class AnalysisStateRules:
    def __init__(self, *, node: str, camera: str, analyzer: str, initial: AnalysisState) -> None:
        self.node = node
        self.camera = camera
        self.analyzer = analyzer  # the configured one ("ailab")
        self._state = initial

    def observe(self, state: AnalysisState) -> list[Event]:
        """The event due when a call left the analysis path in `state`."""
        previous, self._state = self._state, state
        if (state.mode, state.reason) == (previous.mode, previous.reason):
            return []
        data: dict[str, object] = {"camera": self.camera, "analyzer": self.analyzer}
        if state.degraded:
            kind = EventKind.ANALYZER_DEGRADED
            data |= {
                "reason": str(state.reason),
                "detail": state.detail,
                "fallback": LOCAL_ANALYZER if state.mode is AnalysisMode.FALLBACK else None,
            }
        else:
            kind = EventKind.ANALYZER_RECOVERED
            data |= {"after": str(previous.reason)}
        return [Event.create(kind, node=self.node, camera=self.camera, subject=None, data=data)]
