"""An image's size read from its header, before any of it is decoded.

A 254-byte PNG may claim 60000x60000 px: a decoder asked for it first allocates the picture
(OpenCV refuses past 2^30 px with an exception; below that it allocates gigabytes, then finds
the data missing). Whoever decodes bytes from outside (`streamwatch analyze`, the emulator's
uploads) reads the size here and refuses before the decoder sees them. The formats are the
Face Analyzer API's: JPEG, PNG and BMP.
"""

from __future__ import annotations

import struct

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers (baseline, progressive, lossless, arithmetic…): the ones that carry
# the size. C4 (Huffman tables), C8 (reserved) and CC (arithmetic conditioning) do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone, without a length: TEM and the restart markers.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_JPEG_START_OF_SCAN = 0xDA
_JPEG_END = 0xD9
_BMP_CORE_HEADER_BYTES = 12  # OS/2 1.x: 16-bit sides; every later header has 32-bit ones


def header_size_px(data: bytes) -> tuple[int, int] | None:
    """(width, height) that a JPEG, PNG or BMP header declares; None for anything else, or a
    header cut short."""
    if data.startswith(_PNG_SIGNATURE):
        return _png(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if data.startswith(b"BM"):
        return _bmp(data)
    return None


def _png(data: bytes) -> tuple[int, int] | None:
    # The IHDR chunk comes first: length (4), type (4), width (4), height (4).
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width_px, height_px = struct.unpack(">II", data[16:24])
    return int(width_px), int(height_px)


def _jpeg(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at < len(data):
        if data[at] != 0xFF:
            return None  # not at a marker: a corrupt file
        while at < len(data) and data[at] == 0xFF:
            at += 1  # fill bytes may pad a marker
        if at >= len(data):
            return None
        marker = data[at]
        at += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (_JPEG_START_OF_SCAN, _JPEG_END):
            return None  # the picture data begins, or the file ends, with no size seen
        if at + 2 > len(data):
            return None
        (length,) = struct.unpack(">H", data[at : at + 2])
        if marker in _JPEG_SOF:
            # length (2), precision (1), height (2), width (2)
            if at + 7 > len(data):
                return None
            height_px, width_px = struct.unpack(">HH", data[at + 3 : at + 7])
            return int(width_px), int(height_px)
        at += length
    return None


def _bmp(data: bytes) -> tuple[int, int] | None:
    # File header (14 bytes), then the DIB header, which starts with its own size.
    if len(data) < 22:
        return None
    (dib_bytes,) = struct.unpack("<I", data[14:18])
    if dib_bytes == _BMP_CORE_HEADER_BYTES:
        width_px, height_px = struct.unpack("<HH", data[18:22])
    elif len(data) >= 26:
        # Signed: a negative height is a picture stored top-down.
        width_px, height_px = struct.unpack("<ii", data[18:26])
    else:
        return None
    return abs(int(width_px)), abs(int(height_px))
