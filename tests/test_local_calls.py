"""The local analyzer is free: its calls spend none of the cloud's call budget.

Real parts: the ASL clip (a new face every 2-4 s) played in real time by two cameras of one
App for RUN_S; the cloud run goes through the cloud client to the emulator over real HTTP.
With a budget of one call per 10 s, the local run makes the calls the call policy asks for, as
fast as the analyzer's workers take them, while the cloud run stays within the budget.
(Real time, not the clip's own clock: a replay's clock stands still while a call waits, so a
budget of one call per 10 s of media time would never let the second go.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from streamwatch.analysis.emulator import EmulatorStats, serve_emulator
from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.app.runner import App
from streamwatch.config import Settings

API_KEY = "test-key-not-secret"
CLIP = "asl_5people_sequence.mp4"  # 19.7 s, 9 takes of 5 people, one face of 62-86 px
PERIOD_S = 10.0  # one call per PERIOD_S: a budget far below what the faces ask for
RUN_S = 8.0  # 3 takes: 3 new faces per camera


def _settings(clip: Path, tmp_path: Path, analyzer: dict[str, Any]) -> Settings:
    camera = {"source": str(clip), "loop": False, "realtime": True}
    return Settings.model_validate(
        {
            "node": "lc",
            "state_dir": str(tmp_path / "state"),
            "cameras": [{"name": name, **camera} for name in ("a", "b")],
            "analyzer": analyzer,
            "budget": {"max_calls": 1, "period_s": PERIOD_S, "camera_interval_s": 0},
            # The clip's faces are 62-86 px: every one of them is worth a call.
            "selection": {"min_face_px": 48},
            "sinks": [],
            "overlay": {"web": False},
            "status": {"enabled": False},
        }
    )


async def _play(settings: Settings) -> tuple[int, int, int]:
    """Calls made, candidates dropped as too old, and the budget's calls, after RUN_S."""
    async with App(settings) as app:
        await asyncio.wait_for(app.run(asyncio.Event(), duration_s=RUN_S), timeout=RUN_S + 30)
        counters = [pipeline.counters for pipeline in app.pipelines.values()]
        return (
            sum(c.calls_made for c in counters),
            sum(c.calls_dropped_stale for c in counters),
            app.budget.state.calls_today,
        )


async def test_local_calls_spend_no_budget_while_cloud_calls_keep_to_it(
    media_dir: Path, tmp_path: Path
) -> None:
    """Main already routed local calls around the budget (analysis/fallback.py): this keeps
    it so, now that the analyzer's workers are what rations them."""
    clip = media_dir / "videos" / CLIP
    local_calls, local_stale, local_spent = await _play(
        _settings(clip, tmp_path / "local", {"kind": "local"})
    )
    allowed = 1  # RUN_S < PERIOD_S

    stats = EmulatorStats()
    async with (
        LocalAnalyzer() as engine,
        serve_emulator(engine, api_key=API_KEY, stats=stats) as url,
    ):
        cloud = {"kind": "ailab", "url": url, "api_key": API_KEY, "fallback": "none"}
        cloud_calls, cloud_stale, cloud_spent = await _play(
            _settings(clip, tmp_path / "cloud", cloud)
        )

    assert local_spent == 0 and local_stale == 0
    assert local_calls >= 3 * allowed, (local_calls, allowed)
    assert 1 <= stats.requests <= allowed and cloud_spent == stats.requests
    assert cloud_stale > 0  # the budget, not a lack of candidates, held the cloud back
    # Candidates that got too old waiting for the rate were no calls (main counted 11 of
    # them as made in a replay with 2 requests: its cost estimate was 7x too high).
    assert cloud_calls == stats.requests
