"""Selection: which frames are worth a paid call."""

from streamwatch.selection.motion import MotionGate
from streamwatch.selection.policy import CallPolicy, CallReason, Candidate, GatedFace
from streamwatch.selection.sharpness import (
    SharpnessHistory,
    downscaled_gray,
    face_sharpness,
    laplacian_variance,
)

__all__ = [
    "CallPolicy",
    "CallReason",
    "Candidate",
    "GatedFace",
    "MotionGate",
    "SharpnessHistory",
    "downscaled_gray",
    "face_sharpness",
    "laplacian_variance",
]
