"""`streamwatch replay`: a recording through the real pipeline, and its report."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from streamwatch.analysis.model import Mask
from streamwatch.config import Settings
from streamwatch.replay.events import EventRecord
from streamwatch.replay.page import GATE_ONLY_MARK
from streamwatch.replay.plot import HEIGHT_PX, WIDTH_PX
from streamwatch.replay.report import write_report
from streamwatch.replay.run import AnalyzerChoice, ReplayOptions, play
from streamwatch.replay.truth import TOLERANCE_S, Visit, load_truth, score

CLIP = "videos/entrance_sim.mp4"  # 15 fps; people walk in one at a time (shared/media)
TRUTH = "videos/entrance_sim.truth.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def streamwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamwatch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_a_replay_of_a_real_clip_reports_what_the_pipeline_did(
    media_dir: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    result = streamwatch(
        "replay",
        str(media_dir / CLIP),
        "--duration",
        "30",
        "--truth",
        str(media_dir / TRUTH),
        "--price-per-call",
        "0.002",
        "--report",
        str(report),
    )
    assert result.returncode == 0, result.stderr
    assert f"report: {report / 'index.html'}" in result.stdout
    for name in ("index.html", "summary.json", "timeline.png", "events.jsonl"):
        assert (report / name).is_file(), name
    summary = json.loads((report / "summary.json").read_text())

    # The summary counts exactly the events a sink got.
    lines = (report / "events.jsonl").read_text().splitlines()
    emitted = Counter(json.loads(line)["type"].removeprefix("streamwatch.") for line in lines)
    assert summary["events"]["by_type"] == dict(emitted)
    assert summary["events"]["total"] == len(lines) == summary["events"]["emitted"]
    assert emitted["face.new"] >= 1  # people walk in during the first 30 s

    # The timeline is a PNG of the size the summary states.
    png = (report / "timeline.png").read_bytes()
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR"
    width_px, height_px = struct.unpack(">II", png[16:24])
    assert (width_px, height_px) == (summary["plot"]["width_px"], summary["plot"]["height_px"])
    assert png.endswith(b"IEND\xaeB`\x82")

    # Every frame of the 30 s was gated, in media time; none dropped.
    assert summary["frames"]["read"] == summary["frames"]["gated"] == 30 * 15
    assert summary["frames"]["dropped"] == 0
    assert sum(summary["frames"]["decisions"].values()) == 30 * 15
    calls = summary["calls"]
    assert calls["poll_1hz"] == 30
    assert 1 <= calls["made"] == len(summary["call_log"]) < calls["poll_1hz"]
    assert summary["cost"]["replay"] == pytest.approx(calls["made"] * 0.002)

    # The page shows the plot and each event's face.
    page = (report / "index.html").read_text()
    assert "timeline.png" in page
    crops = [event["crop"] for event in summary["event_log"] if event["crop"]]
    assert crops, "face events carry crops in a replay"
    for crop in crops:
        assert (report / crop).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
        assert crop in page

    # Against the truth: two visits are over in the first 30 s, nine come later.
    truth = summary["truth"]
    assert truth["people"]["expected"] == 2
    assert truth["visits_left_out"] == 9
    arrivals = [e["media_s"] for e in summary["event_log"] if e["kind"] == "face.new"]
    for visit in truth["visits"]:
        if visit["announced_s"] is not None:
            assert visit["announced_s"] in arrivals
            assert visit["enter_s"] - TOLERANCE_S <= visit["announced_s"] <= visit["leave_s"]
    people = truth["people"]
    assert people["recall"] == people["found"] / 2
    assert f"people recall {people['recall']:.0%}" in result.stdout


async def test_a_fast_replay_is_the_same_every_time(tmp_path: Path) -> None:
    def options(name: str) -> ReplayOptions:
        return ReplayOptions(
            video="demo", settings=Settings(), report_dir=tmp_path / name, duration_s=25
        )

    first, second = await play(options("one")), await play(options("two"))
    assert [(c.sequence, c.reason, c.track_ids) for c in first.calls] == [
        (c.sequence, c.reason, c.track_ids) for c in second.calls
    ]
    assert [(e.kind, e.media_s) for e in first.events] == [
        (e.kind, e.media_s) for e in second.events
    ]
    assert first.calls and first.events  # the demo's visitor is analysed and announced
    assert first.frames_read == 25 * 15 and not first.interrupted


async def test_a_confident_gate_reading_seconds_the_answer_on_both_paths(
    media_dir: Path, tmp_path: Path
) -> None:
    # head_pose_2people: two maskless people, and the on-device gate's reader is sure of both.
    # Through the cloud client the first answer is confirmed by the gate's reading of the
    # same frame; on the device's own path the same rule holds now that the gate reports only
    # confident readings (an earlier main made the local path wait for a second analysis):
    # the alerts come with face.new, on the first call, on both paths.
    def replayed(analyzer: AnalyzerChoice) -> ReplayOptions:
        return ReplayOptions(
            video=str(media_dir / "videos" / "head_pose_2people.mp4"),
            settings=Settings(),
            report_dir=tmp_path / analyzer,
            analyzer=analyzer,
        )

    for replay in (await play(replayed("emulator")), await play(replayed("local"))):
        (call,) = replay.calls
        alerts = [e for e in replay.events if e.kind in ("face.new", "face.maskless")]
        assert sorted(e.kind for e in alerts) == ["face.maskless"] * 2 + ["face.new"] * 2
        assert {e.media_s for e in alerts} == {call.media_s}


async def test_the_report_shows_who_answered_the_gates_readings_and_the_face_sizes(
    media_dir: Path, tmp_path: Path
) -> None:
    # walk_and_pause_3people: three maskless faces of 45-65 px walking in.
    clip = media_dir / "videos" / "walk_and_pause_3people.mp4"
    # The built-in configuration, with calls only for faces of 100 px and more, face events
    # from 40 px and an unanalysed face announced after 1 s: every face here is announced
    # from the gate's detection alone.
    settings = Settings.model_validate(
        {
            "cameras": [{"name": "demo", "source": "demo", "rules": {"min_face_px": 40}}],
            "selection": {"min_face_px": 100},
            "tracking": {"announce_unanalysed_after_s": 1.0},
        }
    )
    options = ReplayOptions(
        video=str(clip),
        settings=settings,
        report_dir=tmp_path / "report",
        truth=load_truth(clip.with_name("walk_and_pause_3people.truth.json")),
    )
    replayed = await play(options)
    files = write_report(options, replayed, "streamwatch replay …")
    summary = json.loads(files.summary.read_text())
    # Played with the built-in configuration, the file is not called `demo`.
    assert summary["camera"] == "walk_and_pause_3people"
    assert all(
        json.loads(line)["source"].endswith("/walk_and_pause_3people")
        for line in files.events.read_text().splitlines()
    )
    # Every gated frame with faces says how big they were and what the gate read of them.
    with_faces = [f for f in replayed.frames if f.faces]
    assert with_faces
    assert all(f.face_px is not None and len(f.gate_masks) == f.faces for f in with_faces)
    readings = {m for f in with_faces for m in f.gate_masks}
    assert readings <= {"none", "worn", "incorrect", "covered", "unsure"}
    assert summary["calls"]["made"] == 0
    # The events table names who decided each event, and marks the gate-only announcements.
    page = files.page.read_text()
    assert "<th>analyzer</th>" in page
    gate_only = [e for e in summary["event_log"] if e["analyzer"] == "local-gate"]
    assert gate_only, "faces under 64 px are announced from the gate's detection"
    assert page.count(f"<td>{GATE_ONLY_MARK} local-gate</td>") == len(gate_only)
    assert f"{GATE_ONLY_MARK} announced from the local gate" in page
    png = files.plot.read_bytes()
    assert struct.unpack(">II", png[16:24]) == (WIDTH_PX, HEIGHT_PX)


def test_truth_scores_count_misses_duplicates_and_wrong_alerts() -> None:
    visits = [
        Visit("anne", 1.0, 5.0, Mask.NONE),
        Visit("bob", 10.0, 14.0, Mask.WORN),
        Visit("carl", 20.0, 24.0, None),
        Visit("dora", 30.0, 34.0, Mask.NONE),  # missed
        Visit("eve", 42.0, 50.0, Mask.NONE),  # still in view at the end: not judged
        Visit("late", 50.0, 55.0, Mask.NONE),  # after the end
    ]
    events = [
        _event("face.new", 1.5),
        _event("face.new", 4.0),  # anne announced twice: wrong
        _event("face.maskless", 2.0),
        _event("face.new", 10.2),
        _event("face.maskless", 11.0),  # bob wears a mask: wrong
        _event("face.returned", 20.1),
        _event("face.maskless", 21.0),  # carl's mask is unknown: not judged
        _event("face.new", 40.0),  # nobody there: wrong
        _event("face.new", 43.0),  # eve's, not judged
    ]
    result = score(visits, events, end_s=45.0)
    assert result.visits_left_out == 2
    people = result.people
    assert (people.expected, people.found, people.events, people.right) == (4, 3, 5, 3)
    assert people.recall == pytest.approx(0.75) and people.precision == pytest.approx(0.6)
    maskless = result.masks["face.maskless"]
    assert (maskless.expected, maskless.found, maskless.events, maskless.right) == (2, 1, 2, 1)
    assert "face.mask_incorrect" not in result.masks  # neither expected nor alerted
    by_person = {r.visit.person: r for r in result.visits}
    assert by_person["anne"].announced_s == 1.5 and by_person["anne"].alerted_s == 2.0
    assert by_person["dora"].announced_s is None


def test_the_truth_files_of_the_shared_media_load_as_they_are(media_dir: Path) -> None:
    entrance = load_truth(media_dir / TRUTH)
    assert len(entrance) == 11
    assert entrance[0] == Visit("with_mask/with_mask543.jpg", 5.99, 11.07, Mask.WORN)
    segments = load_truth(media_dir / "videos" / "asl_5people_sequence.truth.json")
    assert [v.person for v in segments][:3] == ["P1", "P2", "P3"]
    assert segments[1].enter_s == 2.567 and segments[1].mask is Mask.NONE


def test_every_truth_file_of_the_shared_media_loads(media_dir: Path) -> None:
    # Main refused four of the six: those describing the whole clip with `people`,
    # `faces_visible`, `mask` or `empty` instead of `visits` or `segments`.
    files = sorted((media_dir / "videos").glob("*.truth.json"))
    assert len(files) >= 6
    loaded = {path.name.removesuffix(".truth.json"): load_truth(path) for path in files}
    classroom = loaded["classroom_4people"]  # 4 people, faces 15-25 px, no masks, 0-3 s
    assert [(v.enter_s, v.leave_s, v.mask, v.face_px) for v in classroom] == [
        (0.0, 3.0, Mask.NONE, 25.0)
    ] * 4
    assert len(loaded["walk_and_pause_3people"]) == 3
    assert len(loaded["head_pose_2people"]) == 2
    assert loaded["backs_3people_part1"] == ()  # people, but never a face


def test_a_visit_whose_face_stays_below_min_face_px_is_not_judged() -> None:
    visits = [Visit("far", 0.0, 3.0, Mask.NONE, face_px=25.0), Visit("near", 4.0, 8.0, None)]
    result = score(visits, [_event("face.new", 5.0)], end_s=10.0, min_face_px=64)
    assert result.people.expected == 1 and result.people.recall == 1.0
    assert result.visits_left_out == 1
    assert "face.maskless" not in result.masks  # the far one's maskless face is too small


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("[1, 2]", 'expected {"visits": [{"person"'),
        ('{"visits": [{"enter_s": 3, "leave_s": 1}]}', "visit 1: needs 0 <= enter_s <= leave_s"),
        ('{"visits": [{"enter_s": 1, "leave_s": 2, "mask": "yes"}]}', 'mask must be 0 or "none"'),
        ("{not json", "not JSON"),
    ],
)
def test_a_bad_truth_file_is_one_line_naming_the_fix(
    tmp_path: Path, content: str, says: str
) -> None:
    truth = tmp_path / "truth.json"
    truth.write_text(content)
    report = tmp_path / "report"
    result = streamwatch(
        "replay", "demo", "--duration", "1", "--truth", str(truth), "--report", str(report)
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"streamwatch: --truth {truth}: ")
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not report.exists()  # refused before anything ran


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["no-such-clip.mp4"], "no-such-clip.mp4: no such file"),
        (["demo"], "the demo scene never ends: give --duration S"),
        (["rtsp://192.0.2.1/stream"], "replay takes a recording (a video file) or 'demo'"),
        (["demo", "--duration", "5", "--camera", "hall"], "--camera hall: the config has no"),
        (["demo", "--duration", "5", "--analyzer", "ailab"], "give a --config whose [analyzer]"),
    ],
)
def test_a_replay_that_cannot_start_is_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    report = tmp_path / "report"
    result = streamwatch("replay", *args, "--report", str(report))
    assert result.returncode == 1
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not report.exists()


def _event(kind: str, media_s: float) -> EventRecord:
    return EventRecord(kind, media_s, None, None, None, None, None)
