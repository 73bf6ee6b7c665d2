"""The report's HTML page: one self-contained file next to its PNG and crops."""

from __future__ import annotations

from html import escape
from typing import Any

from streamwatch.events.rules import UNANALYSED

GATE_ONLY_MARK = "◇"  # an event decided from the local gate's detection alone

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222;
       margin: 1.5em auto; padding: 0 1.5em; max-width: 1600px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 150px; }
.card b { display: block; font-size: 1.5em; }
table { border-collapse: collapse; } td, th { border-bottom: 1px solid #eee; padding: 3px 10px; }
th { text-align: left; background: #f6f6f6; } td.n { text-align: right; }
img.plot { width: 100%; height: auto; border: 1px solid #ddd; }
img.crop { height: 64px; } .note { color: #555; max-width: 75em; }
"""


def render_page(summary: dict[str, Any], command: str) -> str:
    recording, calls, cost = summary["recording"], summary["calls"], summary["cost"]
    title = f"streamwatch replay: {escape(_name(recording['source']))}"
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>",
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>",
        f"<p class=note>{_header(summary)}<br><code>{escape(command)}</code></p>",
        _cards(summary),
        f"<p><img class=plot src='{escape(summary['plot']['file'])}' "
        f"width={summary['plot']['width_px']} alt='timeline'></p>",
        "<h2>What this replay means</h2>",
        "<ul class=note>" + "".join(f"<li>{escape(n)}</li>" for n in _notes(summary)) + "</ul>",
        "<h2>Calls against a 1 Hz poller</h2>",
        _table(
            ["", "calls", f"cost at {cost['price_per_call']:g} a call", "per day like this"],
            [
                ["streamwatch", calls["made"], _money(cost["replay"]), _money(cost["per_day"])],
                [
                    "1 Hz poller",
                    calls["poll_1hz"],
                    _money(cost["poll_1hz"]),
                    _money(cost["poll_1hz_per_day"]),
                ],
            ],
        ),
        "<h2>Events</h2>",
        _events(summary["event_log"]),
        "<h2>Frames sent</h2>",
        _calls(summary["call_log"]),
        "<h2>Gate decisions</h2>",
        _table(["decision", "frames"], [[k, v] for k, v in summary["frames"]["decisions"].items()]),
    ]
    if summary["truth"] is not None:
        parts += ["<h2>Against the truth</h2>", _truth(summary["truth"])]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _notes(summary: dict[str, Any]) -> list[str]:
    """How to read the numbers: what replaying this way keeps, and what it leaves out."""
    timing, frames = summary["timing"], summary["frames"]
    if summary["mode"] == "realtime":
        lines = [
            "Played in real time on the machine's clock, as `streamwatch run` plays a camera: "
            f"{frames['dropped']} frames were dropped because the pipeline was busy, and "
            "analyses took their real latency."
        ]
    else:
        lines = [
            "Played as fast as it decodes, on the recording's own clock: the time of a frame "
            "is its place in the file, and the call policy's windows, the tracks, the budget's "
            "rate, per-camera interval and max_age all ran in that time, as they would live.",
            "Analyses took no media time: each answer was attached at the frame its call was "
            "made on. Live, an answer comes one analyzer latency later (the cloud API: some "
            "hundreds of ms), so events come that much later too.",
            "No frame was dropped (every frame was gated). Live, frames are dropped only while "
            f"the gate is slower than the {timing['frame_interval_ms']:.0f} ms between frames: "
            f"here it held a frame {timing.get('gate_ms_p50', 0):.1f} ms at the median, "
            f"{timing.get('gate_ms_p95', 0):.1f} ms at p95 and {timing.get('gate_ms_max', 0):.0f} "
            "ms at most, so real time on this machine would have dropped about "
            f"{timing.get('realtime_drops_estimate', 0)} frames.",
        ]
    lines.append(
        "Faces still in view when the recording ends get no face.left; calls still waiting "
        "for the budget then are not made."
    )
    if summary["recording"]["interrupted"]:
        lines.append(f"Interrupted: only the first {summary['recording']['media_s']:.1f} s.")
    lines.append(
        "The configuration's sinks got nothing: the events are in events.jsonl, as a sink gets "
        "them, with face crops whatever the configuration's `crop` says."
    )
    return lines


def _header(summary: dict[str, Any]) -> str:
    recording = summary["recording"]
    config = summary["config"] or "the built-in defaults"
    return escape(
        f"{recording['media_s']:.1f} s, {recording['frames']} frames at {recording['fps']:g} fps, "
        f"{recording['width_px']}x{recording['height_px']} px; camera {summary['camera']} of "
        f"{config}; analyzer {summary['analyzer']}; {summary['mode']} replay; "
        f"streamwatch {summary['streamwatch']}"
    )


def _cards(summary: dict[str, Any]) -> str:
    calls, events, truth = summary["calls"], summary["events"], summary["truth"]
    ratio = calls["vs_poll_1hz"]
    cards = [
        ("calls", calls["made"]),
        ("of a 1 Hz poller's", "-" if ratio is None else f"{ratio:.1%}"),
        ("cost", _money(summary["cost"]["replay"])),
        ("events", events["total"]),
        ("frames sent / candidates", f"{calls['made']} / {calls['candidates']}"),
    ]
    if truth is not None:
        people = truth["people"]
        cards += [
            ("people recall", _share(people["recall"])),
            ("people precision", _share(people["precision"])),
        ]
        for kind, score in truth["masks"].items():
            cards.append(
                (
                    f"{kind} recall / precision",
                    f"{_share(score['recall'])} / {_share(score['precision'])}",
                )
            )
    return (
        "<div class=cards>"
        + "".join(
            f"<div class=card><b>{escape(str(value))}</b>{escape(label)}</div>"
            for label, value in cards
        )
        + "</div>"
    )


def _events(log: list[dict[str, Any]]) -> str:
    rows = [
        [
            _seconds(e["media_s"]),
            e["kind"],
            e["subject"] or "",
            _analyzer(e["analyzer"]),
            e["mask"] or "",
            "" if e["dwell_s"] is None else f"{e['dwell_s']:.1f} s",
            _Raw(f"<img class=crop src='{escape(e['crop'])}' alt=''>" if e["crop"] else ""),
        ]
        for e in log
    ]
    note = (
        f"<p class=note>{GATE_ONLY_MARK} announced from the local gate's detection alone: no "
        "analysis of the face came in time (announce_unanalysed_after_s).</p>"
        if any(e["analyzer"] == UNANALYSED for e in log)
        else ""
    )
    return _table(["time", "event", "track", "analyzer", "mask", "dwell", "crop"], rows) + note


def _analyzer(name: str | None) -> str:
    if name == UNANALYSED:
        return f"{GATE_ONLY_MARK} {name}"
    return name or ""


def _calls(log: list[dict[str, Any]]) -> str:
    rows = [
        [
            _seconds(c["media_s"]),
            _seconds(c["answered_media_s"]),
            c["reason"],
            ", ".join(c["track_ids"]),
            c["analyzer"],
            c["faces_found"],
            ", ".join(c["masks"]),
        ]
        for c in log
    ]
    return _table(
        ["frame sent", "answered at", "why", "tracks", "analyzer", "faces", "masks"], rows
    )


def _truth(truth: dict[str, Any]) -> str:
    scores = [["people (face.new, face.returned)", *_score_cells(truth["people"])]]
    scores += [[kind, *_score_cells(score)] for kind, score in truth["masks"].items()]
    visits = [
        [
            v["person"],
            f"{v['enter_s']:.1f} to {v['leave_s']:.1f} s",
            v["mask"] or "unknown",
            _seconds(v["announced_s"]) if v["announced_s"] is not None else "missed",
            _seconds(v["mask_alert_s"]) if v["mask_alert_s"] is not None else "",
        ]
        for v in truth["visits"]
    ]
    left_out = truth["visits_left_out"]
    return (
        _table(["", "expected", "found", "recall", "events", "right", "precision"], scores)
        + "<p></p>"
        + _table(["person", "in view", "mask", "announced", "mask alert"], visits)
        + (
            f"<p class=note>{left_out} visits still in view at the end, or later: not judged.</p>"
            if left_out
            else ""
        )
    )


def _score_cells(score: dict[str, Any]) -> list[object]:
    return [
        score["expected"],
        score["found"],
        _share(score["recall"]),
        score["events"],
        score["right"],
        _share(score["precision"]),
    ]


class _Raw(str):
    """Markup made here, not text to escape."""


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, _Raw):
            return f"<td>{value}</td>"
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return f"<td class=n>{value}</td>" if numeric else f"<td>{escape(str(value))}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body or '<tr><td>none</td></tr>'}</table>"


def _name(source: str) -> str:
    return source.rsplit("/", 1)[-1]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.4g}"
