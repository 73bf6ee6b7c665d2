"""The timeline of a replay as one PNG, five panels on one time axis:

- face sharpness (faces unfit for being blurred, turned away, or with the mouth covered:
  not for being small) and the floor;
- face size against `min_face_px` (a face below it is unfit for its size);
- the gate's decision per frame;
- mask: the gate's per-frame reading (unsure readings grey, a covered mouth purple) and each
  call's answer;
- candidates, the frames sent (by the call's reason) and the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, none opened

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from streamwatch.analysis.model import Mask
from streamwatch.app.reports import GateDecision
from streamwatch.events.kind import EventKind
from streamwatch.events.rules import UNANALYSED
from streamwatch.replay.collect import CallRecord, FrameRecord
from streamwatch.replay.events import EventRecord
from streamwatch.replay.truth import Visit

WIDTH_PX, HEIGHT_PX, DPI = 1600, 1250, 100
DECISION_COLOURS = {
    GateDecision.STILL: "#d9d9d9",
    GateDecision.RATE: "#bdbdbd",
    GateDecision.NO_FACE: "#9ecae1",
    GateDecision.UNFIT: "#fc9272",
    GateDecision.SAVED: "#a1d99b",
    GateDecision.CANDIDATE: "#3182bd",
    GateDecision.REMEMBERED: "#31a354",
}
# The decisions of frames with faces, drawn on the sharpness and size panels.
FACE_DECISIONS = (
    GateDecision.UNFIT,
    GateDecision.SAVED,
    GateDecision.CANDIDATE,
    GateDecision.REMEMBERED,
)
REASON_COLOURS = {
    "new": "#08519c",
    "better": "#6a51a3",
    "changed": "#d94801",
    "undecided": "#fe9929",
    "refresh": "#41ab5d",
}
EVENT_MARKERS: dict[str, tuple[str, str]] = {
    EventKind.FACE_NEW: ("^", "#08519c"),
    EventKind.FACE_RETURNED: ("^", "#6a51a3"),
    EventKind.FACE_LEFT: ("v", "#636363"),
    EventKind.FACE_MASKLESS: ("X", "#cb181d"),
    EventKind.FACE_MASK_INCORRECT: ("X", "#fd8d3c"),
    EventKind.FACE_LOW_QUALITY: ("s", "#969696"),
}
MASK_COLOURS = {
    "none": "#cb181d",
    "worn": "#238b45",
    "incorrect": "#fd8d3c",
    "covered": "#6a51a3",
    "unsure": "#bdbdbd",
    "unknown": "#bdbdbd",
}
VISIT_COLOURS = {
    None: "#f0f0f0",
    Mask.NONE: "#fde0dd",
    Mask.WORN: "#e5f5e0",
    Mask.INCORRECT: "#fee6ce",
}


def draw_timeline(
    path: Path,
    frames: Sequence[FrameRecord],
    calls: Sequence[CallRecord],
    events: Sequence[EventRecord],
    *,
    fps: float,
    end_s: float,
    sharpness_floor: float,
    min_face_px: float = 0.0,
    max_yaw_deg: float = 90.0,
    visits: Sequence[Visit] = (),
    title: str = "",
) -> dict[str, int | str]:
    """Write the PNG; returns its file name and size for the summary."""
    figure, (sharp_ax, size_ax, gate_ax, mask_ax, sent_ax) = plt.subplots(
        5,
        1,
        sharex=True,
        figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI),
        dpi=DPI,
        gridspec_kw={"height_ratios": [3, 2, 2, 1.2, 2.2]},
        layout="constrained",
    )
    try:
        for ax in (sharp_ax, size_ax, gate_ax, mask_ax, sent_ax):
            _visits(ax, visits, labelled=ax is sharp_ax)
        _sharpness(sharp_ax, frames, sharpness_floor, min_face_px, max_yaw_deg)
        _sizes(size_ax, frames, min_face_px)
        _decisions(gate_ax, frames, fps)
        _masks(mask_ax, frames, calls)
        _sent_and_events(sent_ax, frames, calls, events)
        sent_ax.set_xlim(0, max(end_s, 1 / fps))
        sent_ax.set_xlabel("media time (s)")
        figure.suptitle(title, fontsize=12)
        figure.savefig(path, dpi=DPI)
    finally:
        plt.close(figure)
    return {"file": path.name, "width_px": WIDTH_PX, "height_px": HEIGHT_PX}


def _visits(ax: Axes, visits: Sequence[Visit], *, labelled: bool) -> None:
    """The truth's visits as shaded spans: red without a mask, green with one."""
    labels = set()
    for visit in visits:
        mask = "unknown" if visit.mask is None else visit.mask.name.lower()
        label = f"truth: mask {mask}" if labelled and mask not in labels else None
        labels.add(mask)
        ax.axvspan(
            visit.enter_s,
            visit.leave_s,
            color=VISIT_COLOURS[visit.mask],
            alpha=0.6,  # the whole-frame sharpness, drawn below, shows through
            zorder=0,
            label=label,
        )


def _sharpness(
    ax: Axes, frames: Sequence[FrameRecord], floor: float, min_face_px: float, max_yaw_deg: float
) -> None:
    """Face sharpness per frame; a face unfit for its size is on the size panel, not here, and
    one unfit for being turned away (more than max_yaw_deg) or for a covered mouth is marked
    apart."""

    def unfit_apart(frame: FrameRecord) -> str | None:
        """Why a frame was unfit, when not for blur (nor size: the size panel shows that)."""
        if frame.decision is not GateDecision.UNFIT:
            return None
        if frame.face_yaw_deg is not None and abs(frame.face_yaw_deg) > max_yaw_deg:
            return f"turned > {max_yaw_deg:g}°"
        return "mouth covered" if frame.face_mouth_covered else None

    times = [f.media_s for f in frames]
    whole = ax.twinx()
    whole.plot(times, [f.frame_sharpness for f in frames], color="#969696", linewidth=0.6)
    whole.set_ylabel("whole frame (grey)", color="#737373")
    whole.set_ylim(bottom=0)
    measured = [
        (f, f.face_sharpness)
        for f in frames
        if f.face_sharpness is not None and (f.face_px is None or f.face_px >= min_face_px)
    ]
    for decision in FACE_DECISIONS:
        chosen = [(f, v) for f, v in measured if f.decision is decision and not unfit_apart(f)]
        ax.scatter(
            [f.media_s for f, _ in chosen],
            [sharpness for _, sharpness in chosen],
            s=10,
            color=DECISION_COLOURS[decision],
            label=f"face: {'unfit (blurred)' if decision is GateDecision.UNFIT else decision}",
            zorder=3,
        )
    for why, marker in ((f"turned > {max_yaw_deg:g}°", "x"), ("mouth covered", "+")):
        apart = [(f, v) for f, v in measured if unfit_apart(f) == why]
        if apart:
            ax.scatter(
                [f.media_s for f, _ in apart],
                [sharpness for _, sharpness in apart],
                s=14,
                marker=marker,
                color=DECISION_COLOURS[GateDecision.UNFIT],
                label=f"face: unfit ({why})",
                zorder=3,
            )
    ax.axhline(floor, color="#cb181d", linestyle="--", linewidth=1, label="sharpness_floor")
    # Logarithmic: the floor (tens) and sharp faces (a thousand and more) both show.
    ax.set_yscale("log")
    ax.set_ylabel("face sharpness\n(Laplacian variance, 96 px face)")
    ax.set_zorder(whole.get_zorder() + 1)
    ax.patch.set_visible(False)
    _legend_above(ax)


def _sizes(ax: Axes, frames: Sequence[FrameRecord], min_face_px: float) -> None:
    """The largest face's size per frame, by the gate's decision, against min_face_px."""
    for decision in FACE_DECISIONS:
        chosen = [(f.media_s, f.face_px) for f in frames if f.decision is decision and f.face_px]
        ax.scatter(
            [t for t, _ in chosen],
            [size for _, size in chosen],
            s=10,
            color=DECISION_COLOURS[decision],
            zorder=3,
        )
    ax.axhline(min_face_px, color="#cb181d", linestyle="--", linewidth=1, label="min_face_px")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("face size (px)")
    _legend_above(ax)


def _masks(ax: Axes, frames: Sequence[FrameRecord], calls: Sequence[CallRecord]) -> None:
    """The gate's mask reading of every face it saw (top row) and each answer's (bottom)."""
    for state, colour in MASK_COLOURS.items():
        gate = [f.media_s for f in frames for reading in f.gate_masks if reading == state]
        answers = [c.media_s for c in calls for mask in c.masks if mask == state]
        if gate:
            ax.scatter(gate, [1] * len(gate), s=8, marker="|", color=colour, label=state)
        if answers:
            label = None if gate or state == "unknown" else state
            ax.scatter(answers, [0] * len(answers), s=50, marker="o", color=colour, label=label)
    ax.set_yticks([0, 1], ["call's answer", "gate reading"], fontsize=8)
    ax.set_ylim(-0.6, 1.6)
    ax.set_ylabel("mask")
    _legend_above(ax)


def _decisions(ax: Axes, frames: Sequence[FrameRecord], fps: float) -> None:
    """One row per gate decision, a bar wherever frames got it."""
    rows = list(GateDecision)
    for row, decision in enumerate(rows):
        spans: list[tuple[float, float]] = []
        for frame in frames:
            if frame.decision is not decision:
                continue
            if spans and frame.media_s - sum(spans[-1]) <= 0.5 / fps:
                spans[-1] = (spans[-1][0], frame.media_s + 1 / fps - spans[-1][0])
            else:
                spans.append((frame.media_s, 1 / fps))
        ax.broken_barh(spans, (row - 0.4, 0.8), color=DECISION_COLOURS[decision])
    ax.set_yticks(range(len(rows)), [str(d) for d in rows], fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("gate decision")


def _sent_and_events(
    ax: Axes,
    frames: Sequence[FrameRecord],
    calls: Sequence[CallRecord],
    events: Sequence[EventRecord],
) -> None:
    """Candidates and frames sent (by the call's reason) on the top rows, so that which
    candidates became calls shows; events below, one row per type; an announcement from the
    local gate alone (no analysis) is drawn hollow."""
    kinds: list[str] = [kind for kind in EVENT_MARKERS if any(e.kind == kind for e in events)]
    kinds += sorted({e.kind for e in events} - set(EVENT_MARKERS))
    labels = [*reversed(kinds), "candidates", "frames sent"]
    top = len(labels) - 1
    candidates = [f.media_s for f in frames if f.decision is GateDecision.CANDIDATE]
    ax.vlines(
        candidates, top - 1.4, top - 0.6, color=DECISION_COLOURS[GateDecision.CANDIDATE], lw=1
    )
    for reason, colour in REASON_COLOURS.items():
        chosen = [c.media_s for c in calls if c.reason == reason]
        if chosen:
            ax.vlines(chosen, top - 0.4, top + 0.4, color=colour, linewidth=2, label=reason)
    remembered = [f.media_s for f in frames if f.decision is GateDecision.REMEMBERED]
    if remembered:
        ax.vlines(
            remembered,
            top - 0.4,
            top + 0.4,
            color=DECISION_COLOURS[GateDecision.REMEMBERED],
            linestyle="dotted",
            linewidth=2,
            label="remembered (no call)",
        )
    for row, kind in enumerate(reversed(kinds)):
        marker, colour = EVENT_MARKERS.get(kind, ("o", "#000000"))
        for gate_only in (False, True):
            times = [
                e.media_s
                for e in events
                if e.kind == kind
                and e.media_s is not None
                and (e.analyzer == UNANALYSED) == gate_only
            ]
            ax.scatter(
                times,
                [row] * len(times),
                marker=marker,
                s=60,
                zorder=3,
                facecolors="none" if gate_only else colour,
                edgecolors=colour,
            )
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(-0.7, top + 0.7)
    ax.set_ylabel("calls and events")
    if calls:
        _legend_above(ax, title="frames sent, by the call's reason:")


def _legend_above(ax: Axes, title: str | None = None) -> None:
    ax.legend(
        loc="lower left",
        bbox_to_anchor=(0, 1),
        ncols=6,
        fontsize=8,
        frameon=False,
        title=title,
        title_fontsize=8,
        alignment="left",
    )
