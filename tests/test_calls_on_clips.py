"""Calls on the development clips, replayed as bench/replays.py plays them (the device's own
path: which calls are made does not depend on who answers them).

Each clip is played with the built-in settings, every frame on its own clock, so the same
calls are made on every run. The clips are ../shared/media's (skipped with the reason when
absent); their truth files say who is in view when.
"""

from __future__ import annotations

import json
from pathlib import Path

from streamwatch.config import SelectionSettings, Settings
from streamwatch.replay.run import ReplayOptions, play


async def test_three_people_walking_up_together_cost_one_call(
    media_dir: Path, tmp_path: Path
) -> None:
    # Their faces reach 64 px a quarter second apart; the first call finds all three, and
    # main made a second one for the next face to reach 64 px.
    replay = await play(
        ReplayOptions(
            video=str(media_dir / "videos" / "walk_and_pause_3people.mp4"),
            settings=Settings(),
            report_dir=tmp_path,
        )
    )
    assert [call.faces_found for call in replay.calls] == [3]


async def test_every_take_of_the_sign_language_clip_is_called(
    media_dir: Path, tmp_path: Path
) -> None:
    # P3's second take shows a face of 64-65 px for half a second, then 60-63 px: main's
    # policy was not asked on frames without a fit face, and that take went uncalled.
    clip = media_dir / "videos" / "asl_5people_sequence.mp4"
    takes = json.loads(clip.with_suffix(".truth.json").read_text())["segments"]
    every_face_called = Settings(selection=SelectionSettings(reuse_answer_s=0))
    replay = await play(
        ReplayOptions(video=str(clip), settings=every_face_called, report_dir=tmp_path)
    )
    called = [
        any(t["start_s"] <= c.media_s <= t["end_s"] and c.faces_found for c in replay.calls)
        for t in takes
    ]
    assert called == [True] * len(takes)
    assert [c.reason for c in replay.calls].count("new") == len(takes)  # one first call each


async def test_a_signer_who_comes_back_is_described_by_their_first_answer(
    media_dir: Path, tmp_path: Path
) -> None:
    # Five signers, nine takes: on main each comeback was a paid call for a state the
    # signer's first answer had settled seconds before (9 calls).
    clip = media_dir / "videos" / "asl_5people_sequence.mp4"
    truth = json.loads(clip.with_suffix(".truth.json").read_text())
    takes, signers = truth["segments"], {t["person"] for t in truth["segments"]}
    replay = await play(ReplayOptions(video=str(clip), settings=Settings(), report_dir=tmp_path))
    assert [c.reason for c in replay.calls].count("new") == len(signers) < len(takes)
    assert replay.counters.answers_reused == len(takes) - len(signers)
    arrivals = [e for e in replay.events if e.kind in ("face.new", "face.returned")]
    announced = [any(t["start_s"] <= e.media_s <= t["end_s"] for e in arrivals) for t in takes]
    assert announced == [True] * len(takes)
    # Each comeback is still alerted: the gate read the same state on the face's frame.
    maskless = [e.media_s for e in replay.events if e.kind == "face.maskless"]
    assert len(maskless) == len(takes)


async def test_an_unsure_answer_the_gate_reads_steadily_since_needs_no_second_call(
    media_dir: Path, tmp_path: Path
) -> None:
    # The performer's first answer reads no mask, unsure (0.83); the gate could not read the
    # face in that frame but reads it maskless, confidently, on the next three. Main made an
    # `undecided` call a second later to confirm it, and alerted on that call's answer.
    clip = media_dir / "videos" / "short_hamilton_clip.mp4"
    performer_s = (3.0, 7.0)  # the README's ground truth: frontal, maskless
    replay = await play(ReplayOptions(video=str(clip), settings=Settings(), report_dir=tmp_path))
    during = [c for c in replay.calls if performer_s[0] <= c.media_s <= performer_s[1]]
    assert [c.reason for c in during] == ["new"]
    # Before, from 1 to 3 s, he is seen in profile (yaw -75 to -83 degrees): no call then;
    # the replay's frames say why (its timeline marks them "turned away", not "blurred").
    assert not [c for c in replay.calls if c.media_s < performer_s[0]]
    close_up = [
        f
        for f in replay.frames
        if 1.0 <= f.media_s < performer_s[0] and (f.face_px or 0) >= 150  # his head, 170-215 px
    ]
    assert close_up
    assert all(f.decision == "unfit" and abs(f.face_yaw_deg or 0) > 60 for f in close_up)
    assert replay.counters.answers_seconded >= 1
    first_call_s = during[0].media_s
    maskless = [
        e.media_s
        for e in replay.events
        if e.kind == "face.maskless" and e.media_s is not None and e.media_s <= performer_s[1]
    ]
    # Alerted within a second of the answer, on the gate's own frames, before main's call.
    assert maskless and first_call_s <= maskless[0] < first_call_s + 1.0


async def test_the_entrance_clips_eleven_visitors_are_eleven_people(
    media_dir: Path, tmp_path: Path
) -> None:
    # Eleven different photos walk in one after another. At identity_max_distance 0.6 two of
    # them (0.52 and 0.53 from an earlier visitor's signature) were taken for someone who had
    # come back: face.returned, and that person's answer reused instead of a call.
    clip = media_dir / "videos" / "entrance_sim.mp4"
    visits = json.loads(clip.with_suffix(".truth.json").read_text())["visits"]
    assert len({v["person"] for v in visits}) == len(visits)
    replay = await play(ReplayOptions(video=str(clip), settings=Settings(), report_dir=tmp_path))
    kinds = [e.kind for e in replay.events]
    assert kinds.count("face.returned") == 0
    assert kinds.count("face.new") == len(visits)
    assert replay.counters.answers_reused == 0


async def test_a_hand_over_the_mouth_is_not_sent_for_a_mask_reading(
    media_dir: Path, tmp_path: Path
) -> None:
    # The second signer (2.57-4.67 s, no mask) covers his mouth with his hand from 3.2 to
    # 3.8 s. On main his first call went on a frame of the hand and read `worn`; the gate's
    # `none` once the hand was gone cost a second call, and his alert waited for it.
    clip = media_dir / "videos" / "asl_5people_sequence.mp4"
    take = json.loads(clip.with_suffix(".truth.json").read_text())["segments"][1]
    replay = await play(ReplayOptions(video=str(clip), settings=Settings(), report_dir=tmp_path))
    frames = [f for f in replay.frames if 3.2 <= f.media_s <= 3.7 and f.faces]
    assert frames and all(f.gate_masks == ("covered",) for f in frames)
    calls = [c for c in replay.calls if take["start_s"] <= c.media_s <= take["end_s"]]
    assert [(c.reason, c.masks) for c in calls] == [("new", ("none",))]
    assert not 3.2 <= calls[0].media_s <= 3.7
    maskless = [
        e
        for e in replay.events
        if e.kind == "face.maskless" and take["start_s"] <= (e.media_s or 0) <= take["end_s"]
    ]
    assert len(maskless) == 1
