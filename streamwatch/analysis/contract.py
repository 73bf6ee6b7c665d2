"""The request side of the Face Analyzer Advanced contract, shared by client and emulator."""

from __future__ import annotations

ENDPOINT_PATH = "/api/portrait/analysis/face-analyzer-advanced"
API_KEY_HEADER = "ailabapi-api-key"
IMAGE_FIELD = "image"
