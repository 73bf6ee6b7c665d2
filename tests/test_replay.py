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


async def test_the_gate_seconds_a_cloud_answer_but_not_its_own(tmp_path: Path) -> None:
    # The demo's visitor wears no mask, and the on-device gate reads her so. Through the cloud
    # client the first answer is confirmed by the gate's reading of the same frame: the alert
    # comes with face.new, on one call. The local analyzer's answer is the gate's own reading
    # again, so it is no second opinion: the alert waits for a second analysis.
    def replayed(analyzer: AnalyzerChoice) -> ReplayOptions:
        return ReplayOptions(
            video="demo",
            settings=Settings(),
            report_dir=tmp_path / analyzer,
            analyzer=analyzer,
            duration_s=8,
        )

    cloud, local = await play(replayed("emulator")), await play(replayed("local"))
    for replay in (cloud, local):
        assert [e.kind for e in replay.events] == ["face.new", "face.maskless"]
    new, maskless = cloud.events
    assert maskless.media_s == new.media_s == cloud.calls[0].media_s
    new, maskless = local.events
    assert new.media_s is not None
    assert maskless.media_s == local.calls[1].media_s > new.media_s


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
