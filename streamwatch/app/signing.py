"""Appearance signatures on an answer's faces: a track's first, and again when its face changed.

Neither the cloud API nor the device's analyses in the App (LocalAnalyzer(signatures=False))
carry signatures: they are computed here, from the local gate's detection of the same face in
the same frame (the signature needs the detector's five points), only for a track due one
(tracking/signature_schedule.py); the others keep their track's (Tracker.attach). One the
answer recall computed for that face on that frame (recall.py) is taken as it is. Every
signature computed is counted (`PipelineCounters.signatures`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from streamwatch.analysis.model import Face, FaceAnalysis, Signature
from streamwatch.selection.policy import Candidate
from streamwatch.tracking.signature_schedule import SignatureSchedule

from .recall import SignatureOf
from .reports import PipelineCounters

# A signature computed earlier for (track id, frame sequence), if any.
KeptSignature = Callable[[str, int], Signature | None]
# A face of the analysis and a face of the gate in the same frame are the same face when
# their boxes overlap this much (different detectors draw somewhat different boxes).
SAME_FACE_IOU = 0.3


def counted(signature_of: SignatureOf, counters: PipelineCounters) -> SignatureOf:
    """`signature_of`, each call counted in `counters.signatures`."""

    async def signature(image: np.ndarray, face: Face) -> Signature | None:
        counters.signatures += 1
        return await signature_of(image, face)

    return signature


class Signer:
    """One camera's: signs its answers' faces."""

    def __init__(
        self,
        signature_of: SignatureOf,
        schedule: SignatureSchedule,
        kept: KeptSignature | None = None,
    ) -> None:
        self._signature_of = signature_of
        self._schedule = schedule
        self._kept = kept

    async def sign(self, analysis: FaceAnalysis, candidate: Candidate) -> FaceAnalysis:
        """The analysis with a signature on each face whose track is due one."""
        frame = candidate.frame
        faces = []
        for face in analysis.faces:
            gated = max(candidate.gated, key=lambda g: g.face.box_px.iou(face.box_px), default=None)
            if gated is None or gated.face.box_px.iou(face.box_px) < SAME_FACE_IOU:
                faces.append(face)
                continue
            track_id = gated.track_id
            if face.signature is None and self._schedule.due(track_id, face, frame.monotonic_s):
                kept = self._kept and self._kept(track_id, frame.sequence)
                signature = kept or await self._signature_of(frame.image, gated.face)
                if signature is not None:
                    face = replace(face, signature=signature)
            if face.signature is not None:  # computed here, or a remembered answer's
                self._schedule.taken(track_id, face, frame.monotonic_s)
            faces.append(face)
        return replace(analysis, faces=tuple(faces))

    def forget(self, track_id: str) -> None:
        """The track ended."""
        self._schedule.forget(track_id)
