"""Mask alerts on the development clips, replayed on both paths as bench/replays.py plays them.

Each clip is played with the built-in settings, every frame on its own clock (the same calls
on every run), once with the device answering (`local`) and once through the cloud client
over HTTP to the emulator (`emulator`). The clips are ../shared/media's (skipped with the
reason when absent); nothing was trained or tuned on them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streamwatch.config import Settings
from streamwatch.events.kind import EventKind
from streamwatch.replay.run import AnalyzerChoice, Replayed, ReplayOptions, play

PATHS: tuple[AnalyzerChoice, ...] = ("local", "emulator")


async def _replayed(clip: Path, analyzer: AnalyzerChoice, report_dir: Path) -> Replayed:
    return await play(
        ReplayOptions(
            video=str(clip), settings=Settings(), report_dir=report_dir, analyzer=analyzer
        )
    )


@pytest.mark.parametrize("analyzer", PATHS)
async def test_no_mask_incorrect_on_an_audience_without_masks(
    media_dir: Path, tmp_path: Path, analyzer: AnalyzerChoice
) -> None:
    # short_hamilton's last 3 s: the Obamas and their neighbours, smiling, none masked. A
    # woman half in profile read `incorrect` 0.52 against `none` 0.47 on two calls in a row.
    replay = await _replayed(media_dir / "videos" / "short_hamilton_clip.mp4", analyzer, tmp_path)
    kinds = [event.kind for event in replay.events]
    assert EventKind.FACE_MASK_INCORRECT not in kinds
    assert EventKind.FACE_MASKLESS in kinds  # the faces were read, and read maskless
