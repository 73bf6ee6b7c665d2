"""The `streamwatch` command as a user runs it: a subprocess, its exit status and its output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def streamwatch(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamwatch", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_check_accepts_the_default_config() -> None:
    result = streamwatch("check", str(CONFIG_DIR / "streamwatch.toml"))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_check_names_a_misspelt_key_and_the_file(tmp_path: Path) -> None:
    config = tmp_path / "door.toml"
    config.write_text('[[cameras]]\nname = "door"\nsource = "demo"\n\n[selection]\nwindow_ss = 1\n')
    result = streamwatch("check", str(config))
    assert result.returncode == 2
    assert f"{config}: selection.window_ss: unknown key; did you mean 'window_s'?" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_analyze_finds_the_face_of_a_real_photo(media_dir: Path) -> None:
    result = streamwatch("analyze", str(media_dir / "images" / "faces" / "obama.jpg"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 face(s) in 910x1137 px (local analyzer)")


def test_analyze_reports_zero_faces_for_a_real_image_without_one(media_dir: Path) -> None:
    result = streamwatch("analyze", str(media_dir / "images" / "no_face" / "beer.jpg"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("0 face(s)")


def test_analyze_json_is_the_api_data_shape(media_dir: Path) -> None:
    image = media_dir / "images" / "faces" / "two_people.jpg"
    result = streamwatch("analyze", "--json", str(image))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["face_count"] == 2
    assert len(data["face_rectangles"]) == 8
    assert len(data["landmarks"]) == 2 * 105 * 2


def test_analyze_of_a_file_that_is_not_an_image_is_one_clear_line(tmp_path: Path) -> None:
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("this is text, not a JPEG")
    result = streamwatch("analyze", str(not_an_image))
    assert result.returncode == 1
    assert result.stderr.strip() == f"streamwatch: {not_an_image}: not a JPEG, PNG or BMP image"


def test_run_refuses_a_config_with_errors_before_starting(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[cameras]]\nname = "door"\nsource = "demo"\n[overlay]\nweb_port = "x"\n')
    result = streamwatch("run", "--config", str(config), "--duration", "1")
    assert result.returncode == 2
    assert "overlay.web_port" in result.stderr
