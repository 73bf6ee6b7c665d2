"""What a replay saw, frame by frame and call by call, told by the pipeline's observers."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from streamwatch.analysis.model import Face, FaceAnalysis
from streamwatch.app.pipeline import CameraPipeline
from streamwatch.app.reports import GateDecision, GateReport
from streamwatch.clock import MediaClock
from streamwatch.selection.policy import Candidate
from streamwatch.selection.sharpness import downscaled_gray, laplacian_variance

# Frame sharpness is measured on a grayscale copy this wide (the variance depends on scale).
FRAME_SHARPNESS_WIDTH_PX = 320


@dataclass(frozen=True, slots=True)
class FrameRecord:
    sequence: int
    media_s: float
    decision: GateDecision
    motion: float  # share of the picture that changed since the previous frame
    frame_sharpness: float  # variance of the Laplacian of the whole frame, 320 px wide
    face_sharpness: float | None  # of the sharpest face the gate measured (96 px square)
    faces: int
    face_px: float | None = None  # the largest face's size (side of a square of its area)
    face_yaw_deg: float | None = None  # the largest face's yaw, as the gate estimated it
    face_mouth_covered: bool = False  # the largest face's, as the gate read it
    # The gate's mask reading of each face: "none", "worn", "incorrect", "covered" (something
    # not a mask over the mouth), or "unsure" (its classifier was not confident, or the face
    # too small to read).
    gate_masks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallRecord:
    sequence: int  # of the frame sent
    media_s: float  # of the frame sent
    answered_media_s: float  # media time when the answer came (a fast replay: of the call)
    reason: str
    track_ids: tuple[str, ...]
    faces_found: int
    masks: tuple[str, ...]  # the answer's mask state per face found ("unknown" when None)
    analyzer: str = ""  # who answered ("local", "ailab", …)


class Collector:
    """Records every frame the gate looked at and every call answered, in media time."""

    def __init__(self, fps: float, clock: MediaClock | None = None) -> None:
        """`clock`: a fast replay's; without one, now is the newest frame gated."""
        self._fps = fps
        self._clock = clock
        self.frames: list[FrameRecord] = []
        self.calls: list[CallRecord] = []
        self._timestamps_s: list[float] = []  # of the frames recorded, increasing

    def attach(self, pipeline: CameraPipeline) -> None:
        pipeline.gate_observers.append(self._gated)
        pipeline.call_observers.append(self._answered)

    def media_s(self, sequence: int) -> float:
        return round((sequence - 1) / self._fps, 3)

    def now_media_s(self) -> float:
        if self._clock is not None:
            return round(self._clock.monotonic_s(), 3)
        return self.frames[-1].media_s if self.frames else 0.0

    def media_at(self, timestamp_s: float) -> float | None:
        """The media time of the recorded frame whose timestamp is nearest `timestamp_s`."""
        if not self.frames:
            return None
        index = bisect.bisect_left(self._timestamps_s, timestamp_s)
        nearest = min(
            (i for i in (index - 1, index) if 0 <= i < len(self.frames)),
            key=lambda i: abs(self._timestamps_s[i] - timestamp_s),
        )
        return self.frames[nearest].media_s

    def _gated(self, report: GateReport) -> None:
        frame = report.frame
        gray = downscaled_gray(frame.image, FRAME_SHARPNESS_WIDTH_PX)
        largest = max(report.faces, key=lambda face: face.size_px, default=None)
        pose = None if largest is None else largest.face.pose
        self.frames.append(
            FrameRecord(
                sequence=frame.sequence,
                media_s=self.media_s(frame.sequence),
                decision=report.decision,
                motion=report.motion,
                frame_sharpness=laplacian_variance(gray),
                face_sharpness=max((face.sharpness for face in report.faces), default=None),
                faces=len(report.faces),
                face_px=None if largest is None else largest.size_px,
                face_yaw_deg=None if pose is None else pose.yaw_deg,
                face_mouth_covered=largest is not None and largest.face.mouth_covered,
                gate_masks=tuple(_gate_reading(face.face) for face in report.faces),
            )
        )
        self._timestamps_s.append(frame.timestamp_s)

    def _answered(self, candidate: Candidate, analysis: FaceAnalysis) -> None:
        sent = candidate.frame
        self.calls.append(
            CallRecord(
                sequence=sent.sequence,
                media_s=self.media_s(sent.sequence),
                answered_media_s=self.now_media_s(),
                reason=str(candidate.reason),
                track_ids=candidate.track_ids,
                faces_found=analysis.face_count,
                masks=tuple(
                    "unknown" if face.mask is None else face.mask.name.lower()
                    for face in analysis.faces
                ),
                analyzer=analysis.analyzer,
            )
        )


def _gate_reading(face: Face) -> str:
    if face.mouth_covered:
        return "covered"
    return "unsure" if face.mask is None else face.mask.name.lower()
