"""Every failure of the command is one line and a non-zero exit, never a traceback: ports in
use, a config that is not UTF-8, an image whose header claims gigapixels, a reader of the
output that left. Real processes (`python -m streamwatch`), real sockets.

On main before this work each of these printed a traceback (OSError, UnicodeDecodeError,
cv2.error, BrokenPipeError), and a SIGHUP to a port in use stopped the daemon."""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamwatch.config import Settings
from streamwatch.delivery import Outbox, outbox_path

from .test_daemon import _config, daemon


def streamwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamwatch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line(stderr: str) -> str:
    """The one line the user sees (log lines, JSON, come before it and are not the failure)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("{")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def _run_config(path: Path, *, web_port: int | None, status_port: int | None) -> Path:
    web = f"web = true\nweb_port = {web_port}" if web_port else "web = false"
    status = f"port = {status_port}" if status_port else "enabled = false"
    path.write_text(
        '[[cameras]]\nname = "door"\nsource = "demo"\n'
        f'[overlay]\n{web}\n[status]\n{status}\n[[sinks]]\nkind = "jsonl"\npath = "-"\n'
    )
    return path


def test_a_live_view_port_in_use_is_one_line(tmp_path: Path, taken_port: int) -> None:
    config = _run_config(tmp_path / "c.toml", web_port=taken_port, status_port=None)
    done = streamwatch("run", "--config", str(config), "--duration", "20")
    assert done.returncode == 1
    assert one_line(done.stderr) == (
        f"streamwatch: live view: cannot serve on 127.0.0.1:{taken_port}: Address already in "
        "use (stop what listens there, or choose another port in overlay.web_host, "
        "overlay.web_port)"
    )


def test_a_status_port_in_use_is_one_line(tmp_path: Path, taken_port: int) -> None:
    config = _run_config(tmp_path / "c.toml", web_port=None, status_port=taken_port)
    done = streamwatch("run", "--config", str(config), "--duration", "20")
    assert done.returncode == 1
    assert one_line(done.stderr) == (
        f"streamwatch: status: cannot serve on 127.0.0.1:{taken_port}: Address already in use "
        "(stop what listens there, or choose another port in status.host, status.port)"
    )


async def test_a_sighup_to_a_port_in_use_goes_back_to_the_previous_config(
    tmp_path: Path, taken_port: int
) -> None:
    config = _config(tmp_path / "c.toml", [("door", "demo")])
    async with daemon(config) as running:
        status_port = running.status_url.rsplit(":", 1)[1].strip("/")
        config.write_text(
            config.read_text().replace(f"port = {status_port}", f"port = {taken_port}")
        )
        running.process.send_signal(signal.SIGHUP)
        message = await running.log_until("the new configuration cannot start")
        await running.log_until("health at ")  # the previous parts, on the previous port
        status, _ = await running.health()
        assert running.process.returncode is None
    assert f"cannot serve on 127.0.0.1:{taken_port}" in message
    assert status in (200, 503)  # answering: what it says depends on the demo's face


def test_a_config_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "latin1.toml"
    config.write_bytes('node = "café"\n'.encode("latin-1"))
    for command in (["check", str(config)], ["run", "--config", str(config)]):
        done = streamwatch(*command)
        assert done.returncode == 2
        assert one_line(done.stderr) == (
            f"{config}: not UTF-8 text (byte 0xe9 at offset 11): TOML files are UTF-8; save it "
            "as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        )


def _png_claiming(width_px: int, height_px: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width_px, height_px, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 2000))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side_px", [60_000, 20_000])
def test_analyze_refuses_a_decompression_bomb_before_decoding(tmp_path: Path, side_px: int) -> None:
    # 60000²: OpenCV itself throws (cv2.error traceback on main); 20000² is under OpenCV's own
    # limit, so main allocated 1.2 GB before finding the data missing.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(side_px, side_px))
    assert bomb.stat().st_size < 300
    done = streamwatch("analyze", str(bomb))
    assert done.returncode == 1
    assert one_line(done.stderr) == (
        f"streamwatch: {bomb}: its header claims {side_px}x{side_px} px, more than the 100 "
        "megapixels streamwatch decodes"
    )


def test_a_reader_that_leaves_is_no_traceback(tmp_path: Path) -> None:
    # `streamwatch outbox list | head`: head exits before streamwatch writes.
    with Outbox(outbox_path(Settings())):
        pass  # an outbox to list
    process = subprocess.Popen(
        [sys.executable, "-m", "streamwatch", "outbox", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # long before the interpreter has started
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141  # as a shell reports a program SIGPIPE ended
    assert stderr == ""
