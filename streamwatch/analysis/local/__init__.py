"""The local analyzer: on-device face detection and analysis from models shipped in wheels.

`LocalAnalyzer` is the public entry point; the modules beside it hold one estimate each
(detector, chip, pose, features, mask, quality, signature, landmarks).
"""

from streamwatch.analysis.local.analyzer import LocalAnalyzer

__all__ = ["LocalAnalyzer"]
