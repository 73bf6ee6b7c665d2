"""ONNX Runtime sessions for the device's networks: one thread each.

The local analyzer's workers (one per core) are its parallelism, and the reader threads decode
beside them: a network that spread over the cores itself would only contend with both. A
session's `run` may be called from several threads at once.
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from streamwatch.analysis.local.models import ModelFileError

# ONNX Runtime's own log: errors only (it notes every graph rewrite as a warning otherwise).
_LOG_ERRORS_ONLY = 3


def session(path: Path, what: str, script: str) -> ort.InferenceSession:
    """A session of the network in `path`, one this project ships; a file that does not load
    says `what` it is and that `script` makes it again (as models.project_model_path)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = _LOG_ERRORS_ONLY
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # ONNX Runtime's errors share no base class of their own
        raise ModelFileError(
            f"{what} {path.name} does not load ({error}): reinstall streamwatch, or make it "
            f"with {script}"
        ) from None
