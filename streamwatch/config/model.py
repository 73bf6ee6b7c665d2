"""The typed settings. The defaults here ARE the embedded default configuration.

`streamwatch run` with no `--config` uses `Settings()`: the demo camera, the local analyzer,
events to stdout as JSON lines and the live view on 127.0.0.1:8080. config/streamwatch.toml
spells these same defaults out with a comment per key (a test keeps the two equal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)


class Section(BaseModel):
    # Unknown keys are errors (a misspelt key must never be silently ignored); values are
    # immutable once loaded.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretFiles(Section):
    """A section whose secrets may also be given as `<name>_file`: a path to read them from.

    That is how systemd credentials (LoadCredential) and Docker secrets hand them over, and it
    keeps secrets out of the config file. A relative path is relative to the config file.
    """

    secret_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: Any, info: ValidationInfo) -> Any:
        if not isinstance(values, dict):
            return values
        values = dict(values)
        base_dir = Path((info.context or {}).get("base_dir", "."))
        for name in cls.secret_fields:
            file_key = f"{name}_file"
            if file_key not in values:
                continue
            if name in values:
                raise ValueError(f"set {name} or {file_key}, not both")
            path = base_dir / str(values.pop(file_key))
            try:
                values[name] = path.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise ValueError(f"{file_key}: cannot read {path}: {error.strerror}") from None
        return values


class CameraSettings(Section):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    # "demo", a video file path, "usb:N", "/dev/videoN" or "rtsp://user:pass@host/path".
    source: str
    loop: bool = True  # file sources: start again at the end
    realtime: bool = True  # file sources: pace at the clip's fps (False: as fast as possible)
    width_px: int | None = None  # USB: requested capture size and rate
    height_px: int | None = None
    fps: float | None = None
    rtsp_transport: Literal["tcp", "udp"] = "tcp"
    # No frame for this long = the stream is stalled: it is reopened. Also the time-out of
    # opening and of each read, so a hung camera is noticed within it.
    stall_timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    # A picture bit-for-bit identical for this long is frozen (a stuck encoder): reopened.
    frozen_after_s: Annotated[float, Field(gt=0)] = 30.0
    # camera.offline once the camera has not streamed for this long; camera.online when back.
    offline_after_s: Annotated[float, Field(ge=0)] = 2.0
    reconnect_initial_s: Annotated[float, Field(gt=0)] = 1.0
    reconnect_max_s: Annotated[float, Field(gt=0)] = 60.0
    # Streaming this long without a failure resets the back-off to reconnect_initial_s.
    reconnect_reset_after_s: Annotated[float, Field(gt=0)] = 30.0


class SelectionSettings(Section):
    downscale_width_px: Annotated[int, Field(ge=64, le=1920)] = 320
    # Variance of the Laplacian on the downscaled grayscale frame; below it a frame is too
    # blurred to be worth analysing. It depends on downscale_width_px.
    sharpness_threshold: Annotated[float, Field(ge=0)] = 40.0
    min_interval_s: Annotated[float, Field(ge=0)] = 0.5


class BudgetSettings(Section):
    # At most `max_calls` analyses per `period_s`, across all cameras. The cloud API's
    # provider rejects more than about 2 calls/s.
    max_calls: Annotated[int, Field(ge=1)] = 2
    period_s: Annotated[float, Field(gt=0)] = 1.0


class AnalyzerSettings(SecretFiles):
    secret_fields = ("api_key",)

    kind: Literal["local", "ailab"] = "local"
    url: str = "https://www.ailabapi.com/api/portrait/analysis/face-analyzer-advanced"
    api_key: SecretStr | None = None  # or api_key_file = "/path/to/key"
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    jpeg_quality: Annotated[int, Field(ge=10, le=100)] = 90
    # Local analyzer: detections under this score are not faces.
    min_face_probability: Annotated[float, Field(ge=0, le=1)] = 0.6

    @model_validator(mode="after")
    def _cloud_needs_a_key(self) -> AnalyzerSettings:
        if self.kind == "ailab" and not self.api_key:
            raise ValueError(
                'kind = "ailab" needs an API key: set api_key = "${AILAB_API_KEY}" or api_key_file'
            )
        return self


class TrackingSettings(Section):
    min_iou: Annotated[float, Field(gt=0, le=1)] = 0.2  # box overlap to call it the same face
    left_after_s: Annotated[float, Field(gt=0)] = 3.0  # unseen this long = the face left


class WebhookSinkSettings(SecretFiles):
    secret_fields = ("secret",)

    kind: Literal["webhook"]
    url: str
    secret: SecretStr | None = None  # or secret_file = "/path/to/secret"
    timeout_s: Annotated[float, Field(gt=0)] = 10.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url


class JsonLinesSinkSettings(Section):
    kind: Literal["jsonl"]
    path: str = "-"  # "-" = standard output


SinkSettings = Annotated[WebhookSinkSettings | JsonLinesSinkSettings, Field(discriminator="kind")]


class OverlaySettings(Section):
    web: bool = True
    # Bound to loopback by default: the live view shows faces.
    web_host: str = "127.0.0.1"
    web_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    stream_fps: Annotated[float, Field(gt=0, le=60)] = 10.0
    stream_width_px: Annotated[int, Field(ge=64, le=3840)] = 960
    jpeg_quality: Annotated[int, Field(ge=10, le=100)] = 80
    window: bool = False  # also show a native cv2 window
    show_landmarks: bool = False
    recent_events: Annotated[int, Field(ge=0, le=100)] = 5


def _demo_camera() -> list[CameraSettings]:
    return [CameraSettings(name="demo", source="demo")]


def _stdout_sink() -> list[SinkSettings]:
    return [JsonLinesSinkSettings(kind="jsonl", path="-")]


class Settings(Section):
    node: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "streamwatch"
    cameras: Annotated[list[CameraSettings], Field(min_length=1)] = Field(
        default_factory=_demo_camera
    )
    selection: SelectionSettings = SelectionSettings()
    budget: BudgetSettings = BudgetSettings()
    analyzer: AnalyzerSettings = AnalyzerSettings()
    tracking: TrackingSettings = TrackingSettings()
    sinks: list[SinkSettings] = Field(default_factory=_stdout_sink)
    overlay: OverlaySettings = OverlaySettings()

    @model_validator(mode="after")
    def _unique_camera_names(self) -> Settings:
        names = [camera.name for camera in self.cameras]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"camera names must be unique; repeated: {', '.join(duplicates)}")
        return self
