"""Shared test helpers: a state directory per test, and the development media (../shared/media,
outside the repository)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

# The media live next to the repository, never in it (shared/media/README.md).
MEDIA_DIR = Path(__file__).resolve().parents[2] / "shared" / "media"


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test (and every streamwatch it starts) keeps its outbox in a directory of its own,
    never in the machine's /var/lib/streamwatch."""
    path = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("STREAMWATCH_STATE_DIR", str(path))
    return path


@pytest.fixture
def media_dir() -> Path:
    if not MEDIA_DIR.is_dir():
        pytest.skip(f"development media not found at {MEDIA_DIR} (expected ../shared/media)")
    return MEDIA_DIR


@pytest.fixture
def media_image(media_dir: Path) -> Callable[[str], np.ndarray]:
    """Load a BGR image by its path under shared/media, e.g. "images/faces/obama.jpg"."""

    def load(relative: str) -> np.ndarray:
        path = media_dir / relative
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            pytest.skip(f"media file missing or unreadable: {path}")
        return image

    return load
