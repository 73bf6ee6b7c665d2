"""The analyzer a configuration names: the cloud client (`analyzer.kind = "ailab"`) or the
device's own, sized by the call policy's smallest face."""

from __future__ import annotations

from streamwatch.analysis.analyzer import Analyzer
from streamwatch.analysis.client import CloudAnalyzer
from streamwatch.analysis.local import LocalAnalyzer
from streamwatch.analysis.local.detector import DetectorSize
from streamwatch.config.model import Settings


def build_analyzer(settings: Settings, *, signatures: bool = True) -> Analyzer:
    """`signatures`: whether the local analyzer's analyses carry them (LocalAnalyzer)."""
    if settings.analyzer.kind == "ailab":
        return CloudAnalyzer(settings.analyzer)
    return local_analyzer(settings, signatures=signatures)


def local_analyzer(settings: Settings, *, signatures: bool = True) -> LocalAnalyzer:
    """The device's analyzer: YuNet sees frames as small as the call policy's smallest face
    allows, on `local_workers` workers."""
    return LocalAnalyzer(
        min_face_probability=settings.analyzer.min_face_probability,
        size=DetectorSize(min_face_px=settings.selection.min_face_px),
        workers=settings.analyzer.local_workers,
        signatures=signatures,
    )
