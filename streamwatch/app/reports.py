"""What a camera pipeline reports: a gate decision per frame, and its running counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from streamwatch.capture.frame import Frame
from streamwatch.selection.policy import Candidate, GatedFace


class GateDecision(StrEnum):
    """What the gates made of one frame."""

    STILL = "still"  # nothing moved and no face tracked
    RATE = "rate"  # the face detector had run less than 1/detect_fps ago
    NO_FACE = "no_face"
    UNFIT = "unfit"  # faces, none big and sharp enough for the API
    SAVED = "saved"  # fit faces the policy needed no call for
    CANDIDATE = "candidate"
    REMEMBERED = "remembered"  # a new face described by its person's answer of a moment ago


@dataclass(frozen=True, slots=True)
class GateReport:
    frame: Frame
    decision: GateDecision
    motion: float  # share of the picture that changed since the previous frame
    faces: tuple[GatedFace, ...] = ()
    candidate: Candidate | None = None


@dataclass
class PipelineCounters:
    frames_seen: int = 0
    dropped_motion: int = 0  # nothing moved and no face tracked
    dropped_rate: int = 0  # the face gate had run less than 1/detect_fps ago
    dropped_no_face: int = 0  # the gate found no face
    # Face-gate detections that looked at a region of the frame only (selection/region.py).
    region_detections: int = 0
    dropped_unfit: int = 0  # faces found, none big and sharp enough for the API
    candidates: int = 0
    calls_made: int = 0
    calls_saved: int = 0  # fit faces the policy did not need a call for
    calls_dropped_stale: int = 0
    answers_reused: int = 0  # first calls saved: the person's answer of a moment ago reused
    # Answers that settled a face when the gate's held reading seconded them (no second call).
    answers_seconded: int = 0
    signatures: int = 0  # appearance signatures computed (tracking/signature_schedule.py)
    # Calls the cloud did not answer that the device answered (or, with fallback "none",
    # nobody did), by why (FallbackReason).
    fallbacks: dict[str, int] = field(default_factory=dict)
    analysis_errors: int = 0
    events: int = 0
    # A plain dict, not a Counter: dataclasses.asdict rebuilds a Counter from its items.
    events_by_type: dict[str, int] = field(default_factory=dict)
