"""The JSON summary of a replay: counts, calls against a 1 Hz poller, cost, truth scores."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict
from statistics import quantiles
from typing import Any

from streamwatch import __version__
from streamwatch.app.reports import GateDecision
from streamwatch.replay.run import Replayed, ReplayOptions
from streamwatch.replay.truth import Score, TruthScore

POLL_HZ = 1.0  # what a poller calls: one picture a second, whatever is in it
DAY_S = 86_400.0


def summarize(
    options: ReplayOptions,
    replayed: Replayed,
    truth: TruthScore | None,
    plot: dict[str, Any],
) -> dict[str, Any]:
    counters, media_s, price = replayed.counters, replayed.media_s, options.price_per_call
    made = counters.calls_made
    polled = math.ceil(media_s * POLL_HZ)
    decisions = Counter(frame.decision for frame in replayed.frames)
    return {
        "streamwatch": __version__,
        "recording": {
            "source": replayed.recording.source,
            "fps": round(replayed.recording.fps, 3),
            "width_px": replayed.recording.width_px,
            "height_px": replayed.recording.height_px,
            "frames": replayed.frames_read,
            "media_s": round(media_s, 3),
            "interrupted": replayed.interrupted,
        },
        "camera": replayed.camera,
        "config": None if options.config_path is None else str(options.config_path),
        "mode": "realtime" if options.realtime else "fast",
        "analyzer": options.analyzer,
        "frames": {
            "read": replayed.frames_read,
            "gated": counters.frames_seen,
            "dropped": replayed.frames_dropped,
            "decisions": {str(d): decisions.get(d, 0) for d in GateDecision},
        },
        "calls": {
            "made": made,
            "answered": len(replayed.calls),
            "failed": counters.analysis_errors,
            "candidates": counters.candidates,
            "dropped_stale": counters.calls_dropped_stale,
            "fallbacks": dict(counters.fallbacks),
            "by_reason": dict(Counter(call.reason for call in replayed.calls)),
            "poll_1hz": polled,
            "vs_poll_1hz": round(made / polled, 4) if polled else None,
        },
        "cost": {
            "price_per_call": price,
            "replay": round(made * price, 6),
            "poll_1hz": round(polled * price, 6),
            # If every day looked like this recording.
            "per_day": round(made / media_s * DAY_S * price, 4) if media_s else None,
            "poll_1hz_per_day": round(POLL_HZ * DAY_S * price, 4),
        },
        "events": {
            "total": len(replayed.events),
            "by_type": dict(Counter(event.kind for event in replayed.events)),
            "emitted": counters.events,
        },
        "truth": None if truth is None else _truth(truth),
        "timing": _timing(replayed, options.realtime),
        "plot": plot,
        "call_log": [asdict(call) for call in replayed.calls],
        "event_log": [asdict(event) for event in replayed.events],
    }


def realtime_drops(held_s: list[float], fps: float) -> int:
    """Frames a one-slot hand-over would have dropped had they come at `fps` in real time,
    the pipeline holding each frame it took as long as it did in the replay."""
    free_s = 0.0
    dropped = 0
    for index, hold_s in enumerate(held_s):
        arrives_s = index / fps
        taken_s = max(arrives_s, free_s)
        if (index + 1) / fps <= taken_s:  # the next frame came before this one was taken
            dropped += 1
            continue
        free_s = taken_s + hold_s
    return dropped


def _timing(replayed: Replayed, realtime: bool) -> dict[str, Any]:
    interval_ms = 1000 / replayed.recording.fps
    if realtime or len(replayed.held_s) < 2:
        return {"clock": "machine" if realtime else "media", "frame_interval_ms": interval_ms}
    held_ms = sorted(1000 * s for s in replayed.held_s)
    percentiles = quantiles(held_ms, n=100)
    return {
        "clock": "media",
        "frame_interval_ms": round(interval_ms, 2),
        "gate_ms_p50": round(percentiles[49], 2),
        "gate_ms_p95": round(percentiles[94], 2),
        "gate_ms_max": round(held_ms[-1], 2),
        "realtime_drops_estimate": realtime_drops(replayed.held_s, replayed.recording.fps),
    }


def _truth(truth: TruthScore) -> dict[str, Any]:
    return {
        "people": _score(truth.people),
        "masks": {kind: _score(score) for kind, score in truth.masks.items()},
        "visits_left_out": truth.visits_left_out,
        "visits": [
            {
                "person": result.visit.person,
                "enter_s": result.visit.enter_s,
                "leave_s": result.visit.leave_s,
                "mask": None if result.visit.mask is None else result.visit.mask.name.lower(),
                "announced_s": result.announced_s,
                "mask_alert_s": result.alerted_s,
            }
            for result in truth.visits
        ],
    }


def _score(score: Score) -> dict[str, Any]:
    recall, precision = score.recall, score.precision
    return asdict(score) | {
        "recall": None if recall is None else round(recall, 4),
        "precision": None if precision is None else round(precision, 4),
    }
