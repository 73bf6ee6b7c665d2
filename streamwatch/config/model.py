"""The typed settings. The defaults here ARE the embedded default configuration.

`streamwatch run` with no `--config` uses `Settings()`: the demo camera, the local analyzer,
events to stdout as JSON lines and the live view on 127.0.0.1:8080. config/streamwatch.toml
spells these same defaults out with a comment per key (a test keeps the two equal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from streamwatch.camera_url import checked_source
from streamwatch.config.base import FromArrays, SecretFiles, Section
from streamwatch.config.budget import BudgetSettings
from streamwatch.config.history import HistorySettings
from streamwatch.config.serving import OverlaySettings, StatusSettings
from streamwatch.config.sinks import (
    JsonLinesSinkSettings,
    SinkSettings,
)
from streamwatch.events.kind import EventKind

DEFAULT_STATE_DIR = "/var/lib/streamwatch"


class RuleSettings(Section):
    """Which events a camera emits, and how sure it must be first."""

    events: tuple[EventKind, ...] = tuple(EventKind)
    # A mask state is confirmed by k of the last n analyses of the face, or by one confident
    # answer (overall quality at least confident_quality, the API's recommended 85).
    mask_confirm_k: Annotated[int, Field(ge=1)] = 2
    mask_confirm_n: Annotated[int, Field(ge=1)] = 3
    confident_quality: Annotated[float, Field(ge=0, le=100)] = 85.0
    # An answer is also confirmed when the local gate confidently read the same mask state
    # on the same frame: for a cloud answer a second, independent opinion that costs no call;
    # for the device's own answer the classifier's word that it is sure (the gate reports
    # only readings it is confident of). Otherwise confirmation waits for k of n answers.
    mask_gate_confirms: bool = True
    # Mask alerts fire once per face, and again only after this long and new evidence.
    cooldown_s: Annotated[float, Field(ge=0)] = 300.0
    # face.low_quality when a face's best picture quality (worst of blur, lighting, noise)
    # stays below this.
    low_quality_below: Annotated[float, Field(ge=0, le=100)] = 15.0
    # Only faces at least this big (px), and with their centre inside this polygon of frame
    # pixels ([[x, y], …]; empty: the whole picture), make face events.
    min_face_px: Annotated[int, Field(ge=0)] = 0
    zone: Annotated[tuple[tuple[float, float], ...], FromArrays] = ()
    # Attach the face's crop to face events as base64 JPEG of at most crop_max_bytes.
    crop: bool = False
    crop_max_bytes: Annotated[int, Field(ge=1000, le=1_000_000)] = 30_000

    @field_validator("events", mode="before")
    @classmethod
    def _known_events(cls, events: object) -> object:
        """Kinds, with or without their "streamwatch." prefix (as the CloudEvents type)."""
        if not isinstance(events, list | tuple):
            return events  # pydantic says what is wrong with it
        names = [e.removeprefix("streamwatch.") if isinstance(e, str) else e for e in events]
        known = [kind.value for kind in EventKind]
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r}; known: {', '.join(known)}")
        return tuple(EventKind(name) for name in names)

    @model_validator(mode="after")
    def _k_within_n(self) -> RuleSettings:
        if self.mask_confirm_k > self.mask_confirm_n:
            raise ValueError("mask_confirm_k must not exceed mask_confirm_n")
        if self.zone and len(self.zone) < 3:
            raise ValueError("a zone needs at least 3 points, e.g. [[0, 0], [640, 0], [640, 480]]")
        return self


class CameraSettings(Section):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    # "demo", a video file path, "usb:N", "/dev/videoN" or "rtsp://user:pass@host/path"
    # (a password's special characters raw or percent-encoded: streamwatch/camera_url.py).
    source: Annotated[str, AfterValidator(checked_source)]
    loop: bool = True  # file sources: start again at the end
    realtime: bool = True  # file sources: pace at the clip's fps (False: as fast as possible)
    width_px: int | None = None  # USB: requested capture size and rate
    height_px: int | None = None
    fps: float | None = None
    rtsp_transport: Literal["tcp", "udp"] = "tcp"
    # Streams: FFmpeg's decoder threads. 1 decodes on the camera's reader thread, which hands
    # each frame over a frame interval sooner (FFmpeg's frame threads hold frames back) and
    # saves their threads and buffers; 0 = FFmpeg's choice (for what one core cannot decode).
    decode_threads: Annotated[int, Field(ge=0, le=16)] = 1
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
    # Unexpected errors in a row (an exception other than a failed open or read: a driver or
    # decoder bug; a reader thread that died) before the camera is given up: `failed` for
    # good, camera.offline. Streaming reconnect_reset_after_s without one starts the count
    # again; an unreachable or stalled camera is never given up (it reconnects forever).
    max_failures: Annotated[int, Field(ge=1)] = 5
    rules: RuleSettings = RuleSettings()


class SelectionSettings(Section):
    # Motion gate: frames are compared on a grayscale sample this wide; a pixel changed when
    # it moved by more than motion_pixel_delta grey levels; the frame moved when at least
    # motion_min_changed of its pixels did.
    motion_width_px: Annotated[int, Field(ge=16, le=640)] = 160
    motion_pixel_delta: Annotated[int, Field(ge=1, le=255)] = 12
    motion_min_changed: Annotated[float, Field(gt=0, le=1)] = 0.002
    # This share of the picture changing from one frame to the next, after a quiet frame, is
    # a cut (the camera moved, an edited recording): the faces tracked before it are gone,
    # whoever stands there now. (Someone walking past the lens changes as much, but over
    # several frames.)
    cut_changed: Annotated[float, Field(gt=0, le=1)] = 0.3
    # Face gate: the local detector runs at most this often per camera (only on frames with
    # motion, or while faces are tracked).
    detect_fps: Annotated[float, Field(gt=0, le=60)] = 5.0
    # ... and this often while every face in view is still, called and settled (the detector
    # is the gate's largest cost; full rate again on any change: selection/pace.py). Set it
    # to detect_fps to keep the full rate.
    still_detect_fps: Annotated[float, Field(gt=0, le=60)] = 2.0
    # The face detector looks at the whole frame at least this often; between, only at what
    # moved and around the faces it tracks (selection/region.py). 0: always the whole frame.
    full_frame_detect_s: Annotated[float, Field(ge=0)] = 1.0
    # The API does not analyse faces smaller than 64x64 px reliably: no call for them.
    min_face_px: Annotated[int, Field(ge=16)] = 64
    # A face turned further than this from the camera (the gate's yaw estimate) waits for a
    # view from the front: the mask reader cannot see a mask's outline in profile, and
    # profile answers flip between states. One that never turns is announced unanalysed.
    max_yaw_deg: Annotated[float, Field(gt=0, le=90)] = 60.0
    # Variance of the Laplacian of the face (resampled to 96x96 px) below which it is blurred,
    # and the share of the camera's recent median below which it is worse than usual.
    sharpness_floor: Annotated[float, Field(ge=0)] = 15.0
    sharpness_relative_min: Annotated[float, Field(ge=0)] = 0.6
    # A new face gets one call: on its first frame as sharp as the camera's usual, or after
    # two window_s on the best of the last window_s; after that a call only when it got
    # clearly better (score times improvement; once), when the gate's held mask reading
    # changed, when its state is still undecided, or every refresh_s; at most
    # max_calls_per_track calls in all (selection/policy.py).
    window_s: Annotated[float, Field(ge=0)] = 0.5
    improvement: Annotated[float, Field(ge=1)] = 1.3
    refresh_s: Annotated[float, Field(gt=0)] = 30.0
    max_calls_per_track: Annotated[int, Field(ge=1)] = 6
    # A new face that is someone answered for less than this long ago (the same signature,
    # the gate reading the same mask state now) is described by that answer: no new call
    # for a person who stepped out of view and back. 0: every face gets its own first call.
    reuse_answer_s: Annotated[float, Field(ge=0)] = 60.0


class AnalyzerSettings(SecretFiles):
    secret_fields = ("api_key",)

    kind: Literal["local", "ailab"] = "local"
    url: str = "https://www.ailabapi.com/api/portrait/analysis/face-analyzer-advanced"
    api_key: SecretStr | None = None  # or api_key_file = "/path/to/key"
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    jpeg_quality: Annotated[int, Field(ge=10, le=100)] = 90
    # Cloud: calls in flight at once; more wait for a free slot.
    max_concurrent_calls: Annotated[int, Field(ge=1, le=64)] = 4
    # Cloud: provider faults (5xx), time-outs, resets and malformed answers are tried again this
    # many times, after a random pause up to retry_base_delay_s doubled per retry (at most
    # retry_max_delay_s).
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    retry_base_delay_s: Annotated[float, Field(ge=0)] = 0.5
    retry_max_delay_s: Annotated[float, Field(ge=0)] = 8.0
    # Cloud: this many failed attempts in a row open the circuit: calls fail at once for
    # breaker_cooldown_s, then one probe call decides whether it closes again.
    breaker_failures: Annotated[int, Field(ge=1)] = 5
    breaker_cooldown_s: Annotated[float, Field(gt=0)] = 30.0
    # Cloud: after "out of credits" (HTTP 429) no call is made for this long.
    credits_pause_s: Annotated[float, Field(gt=0)] = 600.0
    # Cloud: when it cannot answer a face (refused, failed after its retries, no answer within
    # budget.max_age_s), "local" asks the on-device analyzer instead, so mask alerts go on;
    # "none" leaves the face unanalysed (and /healthz failing) until the cloud answers again.
    fallback: Literal["local", "none"] = "local"
    # Local analyzer: detections under this score are not faces.
    min_face_probability: Annotated[float, Field(ge=0, le=1)] = 0.6
    # Local analyzer (and the face gate, whatever the analyzer): detections and analyses at
    # once, each on a detector of its own; more wait for a free one. This, not the budget,
    # rations the device's CPU. Unset: the cores, at most 4.
    local_workers: Annotated[int, Field(ge=1, le=64)] | None = None

    @model_validator(mode="after")
    def _cloud_needs_a_key(self) -> AnalyzerSettings:
        if self.kind == "ailab" and not self.api_key:
            raise ValueError(
                'kind = "ailab" needs an API key: set api_key = "${AILAB_API_KEY}" or api_key_file'
            )
        return self

    @model_validator(mode="after")
    def _retry_delays_in_order(self) -> AnalyzerSettings:
        if self.retry_max_delay_s < self.retry_base_delay_s:
            raise ValueError("retry_max_delay_s must be at least retry_base_delay_s")
        return self


class TrackingSettings(Section):
    min_iou: Annotated[float, Field(gt=0, le=1)] = 0.2  # box overlap to call it the same face
    left_after_s: Annotated[float, Field(gt=0)] = 3.0  # unseen this long = the face left
    # A face is announced (face.new) with its first analysis; one the analyzer never described
    # (API down, budget spent) is announced from the local detection after this long, if it is
    # big enough for a call (selection.min_face_px, or the camera's rules.min_face_px if set).
    announce_unanalysed_after_s: Annotated[float, Field(gt=0)] = 5.0
    # Identity memory: a face seen again within forget_after_s is face.returned, not
    # face.new, when its appearance signature is within identity_max_distance (cosine) of
    # the one remembered. Signatures stay on this machine; identity_file (relative: under
    # the state directory; empty: memory only) keeps them across restarts.
    forget_after_s: Annotated[float, Field(gt=0)] = 600.0
    # 0.5: on the development clips people seen again were 0.14-0.44 from their first
    # signature, and different people 0.52-0.55 at the nearest (at 0.6, three of seven
    # returns were someone else: two entrance visitors, the Hamilton clip's audience).
    identity_max_distance: Annotated[float, Field(gt=0, le=2)] = 0.5
    identity_file: str = ""
    # A track's appearance signature is computed with its first analysis, and again only
    # when its face grew, shrank or turned a lot, or the last one is this old
    # (tracking/signature_schedule.py).
    signature_refresh_s: Annotated[float, Field(gt=0)] = 10.0


class OutboxSettings(Section):
    # At most this many events wait in the outbox; when it is full the oldest is dropped to
    # make room, counted, logged and shown by `streamwatch outbox`.
    max_events: Annotated[int, Field(ge=10)] = 100_000
    # A failed delivery (5xx, 408, 429, time-out, no connection) is tried again after a random
    # pause of up to retry_initial_s, doubled per failure up to retry_max_s; a Retry-After
    # answer is honoured.
    retry_initial_s: Annotated[float, Field(gt=0)] = 1.0
    retry_max_s: Annotated[float, Field(gt=0)] = 60.0


def _demo_camera() -> list[CameraSettings]:
    return [CameraSettings(name="demo", source="demo")]


def _stdout_sink() -> list[SinkSettings]:
    return [JsonLinesSinkSettings(kind="jsonl", path="-")]


class Settings(Section):
    node: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "streamwatch"
    # Where the outbox lives. With this default, systemd's $STATE_DIRECTORY wins when set, and
    # ~/.local/state/streamwatch is used when the default is not writable (not root);
    # $STREAMWATCH_STATE_DIR, when set, overrides all of them.
    state_dir: str = DEFAULT_STATE_DIR
    cameras: Annotated[list[CameraSettings], Field(min_length=1)] = Field(
        default_factory=_demo_camera
    )
    selection: SelectionSettings = SelectionSettings()
    budget: BudgetSettings = BudgetSettings()
    analyzer: AnalyzerSettings = AnalyzerSettings()
    tracking: TrackingSettings = TrackingSettings()
    sinks: list[SinkSettings] = Field(default_factory=_stdout_sink)
    outbox: OutboxSettings = OutboxSettings()
    history: HistorySettings = HistorySettings()
    overlay: OverlaySettings = OverlaySettings()
    status: StatusSettings = StatusSettings()

    @model_validator(mode="after")
    def _unique_camera_names(self) -> Settings:
        names = [camera.name for camera in self.cameras]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"camera names must be unique; repeated: {', '.join(duplicates)}")
        return self

    @model_validator(mode="after")
    def _unique_sink_names(self) -> Settings:
        names = [sink.sink_name for sink in self.sinks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(
                f"sinks: more than one sink named {', '.join(duplicates)}; give each its own `name`"
            )
        return self

    @field_validator("state_dir")
    @classmethod
    def _state_dir_from_config_dir(cls, state_dir: str, info: ValidationInfo) -> str:
        base_dir = (info.context or {}).get("base_dir")
        if base_dir is None or Path(state_dir).is_absolute():
            return state_dir
        return str(Path(base_dir) / state_dir)
