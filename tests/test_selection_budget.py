"""Selection (sharpness, minimum interval) and the global call budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from streamwatch.budget import CallBudget
from streamwatch.capture import Frame
from streamwatch.config import BudgetSettings, SelectionSettings
from streamwatch.selection import FrameSelector, Verdict, downscaled_gray, laplacian_variance


def _frame(image: np.ndarray, at_s: float, sequence: int = 1) -> Frame:
    return Frame("cam", sequence, time.time(), at_s, image)


def _textured(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    return cv2.GaussianBlur(image, (3, 3), 0)


def test_blurring_lowers_the_sharpness_measure() -> None:
    sharp = downscaled_gray(_textured(), 320)
    blurred = cv2.GaussianBlur(sharp, (15, 15), 0)
    assert sharp.shape == (180, 320)
    assert laplacian_variance(sharp) > 10 * laplacian_variance(blurred)


def test_real_sharp_face_scores_above_the_same_face_blurred(
    media_image: Callable[[str], np.ndarray],
) -> None:
    image = media_image("images/faces/obama.jpg")
    sharp = laplacian_variance(downscaled_gray(image, 320))
    soft = laplacian_variance(downscaled_gray(cv2.GaussianBlur(image, (31, 31), 0), 320))
    assert sharp > 40 > soft


def test_selector_rejects_blurred_frames_and_keeps_sharp_ones() -> None:
    selector = FrameSelector(SelectionSettings(sharpness_threshold=40, min_interval_s=0))
    blurred = cv2.GaussianBlur(_textured(), (31, 31), 0)
    assert selector.consider(_frame(blurred, 0.0)).verdict is Verdict.BLURRED
    assert selector.consider(_frame(_textured(), 0.1)).verdict is Verdict.CANDIDATE


def test_selector_spaces_candidates_by_the_minimum_interval() -> None:
    selector = FrameSelector(SelectionSettings(sharpness_threshold=0, min_interval_s=0.5))
    verdicts = [
        selector.consider(_frame(_textured(), t)).verdict for t in (0.0, 0.2, 0.49, 0.5, 0.7)
    ]
    assert verdicts == [
        Verdict.CANDIDATE,
        Verdict.TOO_SOON,
        Verdict.TOO_SOON,
        Verdict.CANDIDATE,
        Verdict.TOO_SOON,
    ]


async def test_budget_admits_max_calls_per_period_and_holds_the_next() -> None:
    budget = CallBudget(BudgetSettings(max_calls=2, period_s=60))
    for _ in range(2):
        async with asyncio.timeout(5):
            async with budget:
                pass
    # The third call in the same minute must wait (a failure guard, not a speed measure).
    third = asyncio.create_task(budget.__aenter__())
    done, _ = await asyncio.wait([third], timeout=0.3)
    assert not done
    third.cancel()
    assert budget.calls_made == 2


@pytest.mark.parametrize("max_calls", [1, 3])
async def test_budget_counts_calls(max_calls: int) -> None:
    budget = CallBudget(BudgetSettings(max_calls=max_calls, period_s=60))
    for _ in range(max_calls):
        async with budget:
            pass
    assert budget.calls_made == max_calls
