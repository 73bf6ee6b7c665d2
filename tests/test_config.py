"""Config: TOML → typed settings, and errors that name the file, the key path and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamwatch.config import ConfigError, Settings, load_settings, parse_settings

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def test_default_file_equals_the_embedded_default() -> None:
    # config/streamwatch.toml documents the defaults; it must not drift from them.
    assert load_settings(CONFIG_DIR / "streamwatch.toml") == Settings()


def test_embedded_default_is_the_demo_on_the_local_analyzer() -> None:
    settings = Settings()
    assert [camera.source for camera in settings.cameras] == ["demo"]
    assert settings.analyzer.kind == "local"
    assert settings.overlay.web_host == "127.0.0.1"
    assert settings.overlay.web_port == 8080
    assert settings.budget.max_calls / settings.budget.period_s <= 2


@pytest.mark.parametrize("name", ["kiosk.toml", "edge.toml"])
def test_example_configs_are_valid(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (
        "AILAB_API_KEY",
        "STREAMWATCH_WEBHOOK_SECRET",
        "LOBBY_CAMERA_PASSWORD",
        "SIDE_DOOR_CAMERA_PASSWORD",
    ):
        monkeypatch.setenv(variable, "not-a-real-secret")
    settings = load_settings(CONFIG_DIR / name)
    assert settings.cameras


def test_misspelt_key_names_the_file_the_path_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "cameras.toml"
    path.write_text('[[cameras]]\nname = "door"\nsorce = "usb:0"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert str(path) in message
    assert "cameras[0].sorce: unknown key; did you mean 'source'?" in message


def test_wrong_type_names_the_key_and_the_value() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings('[selection]\ndetect_fps = "two"\n', source="x.toml")
    assert "x.toml: selection.detect_fps:" in str(caught.value)
    assert "'two'" in str(caught.value)


def test_unknown_key_inside_a_sink_is_named_without_the_union_tag() -> None:
    text = '[[sinks]]\nkind = "webhook"\nurl = "http://127.0.0.1:9/"\nsecert = "x"\n'
    with pytest.raises(
        ConfigError, match=r"sinks\[0\]\.secert: unknown key; did you mean 'secret'"
    ):
        parse_settings(text)


def test_invalid_toml_is_reported_with_its_position() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_settings("[budget\n")


def test_env_references_are_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_PASS", "s3cret")
    settings = parse_settings(
        '[[cameras]]\nname = "door"\nsource = "rtsp://u:${CAM_PASS}@127.0.0.1/x"\n'
    )
    assert settings.cameras[0].source == "rtsp://u:s3cret@127.0.0.1/x"


def test_missing_env_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_VARIABLE", raising=False)
    with pytest.raises(
        ConfigError, match=r"analyzer\.api_key: environment variable NO_SUCH_VARIABLE"
    ):
        parse_settings('[analyzer]\nkind = "ailab"\napi_key = "${NO_SUCH_VARIABLE}"\n')


def test_api_key_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_text("key-from-file\n")
    path = tmp_path / "cloud.toml"
    path.write_text('[analyzer]\nkind = "ailab"\napi_key_file = "key.txt"\n')
    settings = load_settings(path)
    assert settings.analyzer.api_key is not None
    assert settings.analyzer.api_key.get_secret_value() == "key-from-file"
    # A secret is never shown by the settings' repr.
    assert "key-from-file" not in repr(settings)


def test_cloud_analyzer_without_a_key_says_how_to_give_one() -> None:
    with pytest.raises(ConfigError, match="needs an API key"):
        parse_settings('[analyzer]\nkind = "ailab"\n')


def test_duplicate_camera_names_are_refused() -> None:
    text = '[[cameras]]\nname = "a"\nsource = "demo"\n[[cameras]]\nname = "a"\nsource = "demo"\n'
    with pytest.raises(ConfigError, match="repeated: a"):
        parse_settings(text)


def test_alarms_messages_and_history_read_from_toml(tmp_path: Path) -> None:
    (tmp_path / "ding.ogg").write_bytes(b"OggS")
    settings = parse_settings(
        """
        [overlay]
        alarm_events = ["streamwatch.face.mask_incorrect", "face.low_quality"]
        alarm_hold_s = 3.5
        alarm_sound = "ding.ogg"
        time_format = "12h"
        [overlay.messages]
        lang = "de-CH"
        welcome = "Willkommen"
        [history]
        max_events = 500
        max_age_days = 1.5
        """,
        base_dir=tmp_path,
    )
    overlay = settings.overlay
    assert [str(kind) for kind in overlay.alarm_events] == [
        "face.mask_incorrect",
        "face.low_quality",
    ]
    assert overlay.alarm_sound == str(tmp_path / "ding.ogg")  # relative to the config file
    assert (overlay.messages.lang, overlay.messages.welcome) == ("de-CH", "Willkommen")
    assert overlay.messages.maskless == "Please put on your mask"  # the rest as default
    assert (settings.history.max_events, settings.history.max_age_days) == (500, 1.5)


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('alarm_events = ["face.left"]', "not about a face in the picture"),
        ('alarm_events = ["camera.offline"]', "alarms can be: face.new"),
        ('alarm_sound = "missing.mp3"', "no audio file at"),
        ('alarm_sound = "notes.txt"', '"off", "tone", or an audio file'),
        ('ack_key = "Ctrl+A"', "ack_key"),
        ('messages.lang = "english please"', "lang"),
    ],
)
def test_alarm_settings_that_cannot_work_are_refused_with_the_fix(
    toml: str, says: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(f"[overlay]\n{toml}\n", base_dir=tmp_path)
    assert says in str(caught.value)
