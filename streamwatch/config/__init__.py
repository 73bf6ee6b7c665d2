"""Typed settings loaded from TOML; see config/streamwatch.toml for every key."""

from streamwatch.config.budget import BudgetSettings
from streamwatch.config.loader import ConfigError, load_settings, parse_settings
from streamwatch.config.model import (
    AnalyzerSettings,
    CameraSettings,
    OutboxSettings,
    SelectionSettings,
    Settings,
    TrackingSettings,
)
from streamwatch.config.serving import OverlaySettings
from streamwatch.config.sinks import (
    JsonLinesSinkSettings,
    MqttSinkSettings,
    SinkSettings,
    WebhookSinkSettings,
)

__all__ = [
    "AnalyzerSettings",
    "BudgetSettings",
    "CameraSettings",
    "ConfigError",
    "JsonLinesSinkSettings",
    "MqttSinkSettings",
    "OutboxSettings",
    "OverlaySettings",
    "SelectionSettings",
    "Settings",
    "SinkSettings",
    "TrackingSettings",
    "WebhookSinkSettings",
    "load_settings",
    "parse_settings",
]
