"""The daemon as systemd runs it: the unit file, notify, signals, health and metrics."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from streamwatch.analysis.emulator import serve_emulator
from streamwatch.analysis.local import LocalAnalyzer

from .support.ports import free_port
from .support.webhook_receiver import webhook_receiver

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "streamwatch.service"


def _config(path: Path, cameras: list[tuple[str, str]], extra: str = "") -> Path:
    tables = "".join(
        f'[[cameras]]\nname = "{name}"\nsource = "{source}"\nstall_timeout_s = 1.0\n'
        f"reconnect_max_s = 2.0\n\n"
        for name, source in cameras
    )
    path.write_text(
        tables + "[overlay]\nweb = false\n\n" + f"[status]\nport = {free_port()}\n\n" + extra
    )
    return path


class Daemon:
    """`streamwatch run` in a subprocess, with its JSON log lines parsed as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.status_url = ""

    async def log_until(self, phrase: str, timeout_s: float = 30) -> str:
        assert self.process.stderr is not None
        async with asyncio.timeout(timeout_s):
            while line := await self.process.stderr.readline():
                message: str = json.loads(line)["message"] if line.startswith(b"{") else ""
                if phrase in message:
                    return message
        raise AssertionError(f"the daemon ended without logging {phrase!r}")

    async def metrics(self) -> dict[str, float]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.status_url + "metrics") as response,
        ):
            text = await response.text()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    async def health(self) -> tuple[int, dict[str, object]]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.status_url + "healthz") as response,
        ):
            return response.status, await response.json()


@asynccontextmanager
async def daemon(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[Daemon]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streamwatch",
        "run",
        "--config",
        str(config),
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    running = Daemon(process)
    try:
        message = await running.log_until("health at ")
        running.status_url = message.split("health at ", 1)[1].split("healthz", 1)[0]
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _until(condition: object, timeout_s: float = 30) -> None:
    """Poll a status endpoint until `condition()` holds (the daemon has no push channel)."""
    async with asyncio.timeout(timeout_s):
        # Nothing to await: /metrics and /healthz are pulled, not pushed.
        while not await condition():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.2)


def test_the_unit_file_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd, as .ci/run does)")
    # verify also checks that ExecStart's program exists: point it at this checkout's.
    executable = Path(sys.executable).with_name("streamwatch")
    unit = tmp_path / "streamwatch.service"
    unit.write_text(UNIT.read_text().replace("/opt/streamwatch/bin/streamwatch", str(executable)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    # Unknown keys are only warnings with exit status 0: clean means no output at all.
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stderr


async def test_ready_then_watchdog_pings_reach_the_notify_socket(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(address)
    receiver.setblocking(False)
    loop = asyncio.get_running_loop()
    config = _config(tmp_path / "demo.toml", [("demo", "demo")])
    env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}  # ping every 0.5 s
    try:
        async with daemon(config, env=env):
            messages: list[str] = []
            async with asyncio.timeout(30):
                while not any("WATCHDOG=1" in m for m in messages):
                    messages.append((await loop.sock_recv(receiver, 4096)).decode())
    finally:
        receiver.close()
    assert messages[0].startswith("READY=1")
    assert "STATUS=" in messages[0] and "cameras streaming" in messages[0]
    assert any("WATCHDOG=1" in m for m in messages[1:])


async def test_sigterm_exits_0_quickly_and_every_event_is_delivered(tmp_path: Path) -> None:
    async with webhook_receiver() as receiver:
        sink = f'[[sinks]]\nkind = "webhook"\nurl = "{receiver.url}"\n'
        config = _config(tmp_path / "demo.toml", [("demo", "demo")], sink)
        async with daemon(config) as running:
            await receiver.wait_for(1, timeout_s=60)  # the demo visitor's face.new
            running.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):
                assert await running.process.wait() == 0
        listing = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streamwatch",
            "outbox",
            "list",
            "--config",
            str(config),
            stdout=asyncio.subprocess.PIPE,
        )
        stdout, _ = await listing.communicate()
    # Nothing left behind: every event of the run reached the receiver before the exit.
    assert ": 0 events held" in stdout.decode() and " 0 dead letters" in stdout.decode()
    assert {r.event["type"] for r in receiver.received} >= {"streamwatch.face.new"}


async def test_sighup_restarts_only_the_camera_whose_settings_changed(tmp_path: Path) -> None:
    config = _config(tmp_path / "two.toml", [("kept", "demo"), ("door", "demo")])
    async with daemon(config) as running:

        async def both_streaming() -> bool:
            values = await running.metrics()
            return all(
                values.get(f'streamwatch_camera_frames_total{{camera="{c}"}}', 0) > 30
                for c in ("kept", "door")
            )

        await _until(both_streaming)
        before = await running.metrics()
        old_text = config.read_text()
        new_text = old_text.replace(
            'name = "door"\nsource = "demo"\nstall_timeout_s = 1.0',
            'name = "door"\nsource = "demo"\nstall_timeout_s = 2.0',
        )
        assert new_text != old_text
        config.write_text(new_text)
        running.process.send_signal(signal.SIGHUP)
        await running.log_until("camera door changed: restarting it")
        changed = 'streamwatch_camera_frames_total{camera="door"}'

        async def door_back() -> bool:
            return (await running.metrics()).get(changed, 0) > 0

        await _until(door_back)
        after = await running.metrics()
    kept = 'streamwatch_camera_frames_total{camera="kept"}'
    assert after[kept] >= before[kept]  # kept counting
    assert after[changed] < before[changed]  # started again from zero


async def test_sighup_adding_a_camera_rebuilds_every_part_in_the_same_process(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path / "one.toml", [("kept", "demo")])
    frames = 'streamwatch_camera_frames_total{{camera="{}"}}'.format
    async with daemon(config) as running:
        await _until(lambda: _more(running, frames("kept"), 0))
        config.write_text(
            config.read_text().replace(
                "[overlay]", '[[cameras]]\nname = "added"\nsource = "demo"\n\n[overlay]', 1
            )
        )
        running.process.send_signal(signal.SIGHUP)
        await running.log_until("the list of cameras changed: restarting every part")
        await running.log_until("health at ")  # the new parts are up
        await _until(lambda: _more(running, frames("added"), 0))
        values = await running.metrics()
        assert running.process.returncode is None  # rebuilt in place, not restarted
    assert values[frames("kept")] > 0


async def test_a_rebuilding_sighup_says_the_faces_left_and_never_reuses_a_track_id(
    tmp_path: Path,
) -> None:
    async with webhook_receiver() as receiver:
        sink = f'[[sinks]]\nkind = "webhook"\nurl = "{receiver.url}"\n'
        config = _config(tmp_path / "one.toml", [("door", "demo")], sink)

        def door(*kinds: str) -> list[tuple[int, dict[str, Any]]]:
            """(place in the order received, event) of the door camera's events of these kinds."""
            wanted = {f"streamwatch.{kind}" for kind in kinds}
            events = enumerate(r.event for r in receiver.received)
            doors = [(n, e) for n, e in events if e["source"].endswith("/door")]
            return [(n, e) for n, e in doors if e["type"] in wanted]

        async with daemon(config) as running:
            await receiver.wait_until(lambda: bool(door("face.new", "face.returned")), 60)
            config.write_text(
                config.read_text().replace(
                    "[overlay]", '[[cameras]]\nname = "added"\nsource = "demo"\n\n[overlay]', 1
                )
            )
            running.process.send_signal(signal.SIGHUP)
            # The rebuilt door camera sees the demo visitor again, as someone new or back.
            await receiver.wait_until(lambda: len(door("face.new", "face.returned")) >= 2, 60)
    (_, first), (second_at, second) = door("face.new", "face.returned")[:2]
    left = [(n, e) for n, e in door("face.left") if e["subject"] == first["subject"]]
    # The old parts said the visitor left before the new ones saw them (not a minute later).
    assert left and left[0][0] < second_at
    assert left[0][1]["data"]["identity_id"] == first["data"]["identity_id"]
    assert second["subject"] != first["subject"]  # a new track id, not "door-1" again


async def test_metrics_move_and_a_dead_camera_fails_health(tmp_path: Path) -> None:
    dead = f"rtsp://127.0.0.1:{free_port()}/nothing-here"
    config = _config(tmp_path / "mixed.toml", [("demo", "demo"), ("dead", dead)])
    async with daemon(config) as running:
        key = 'streamwatch_camera_frames_total{camera="demo"}'
        gated = 'streamwatch_gate_latency_seconds_count{camera="demo"}'

        async def frames_flow() -> bool:
            # Read, and through the gates: a frame is counted when read, timed when the
            # gates are done with it (the first one waits for the detector to load).
            metrics = await running.metrics()
            return metrics.get(key, 0) > 0 and metrics.get(gated, 0) > 0

        await _until(frames_flow)
        first = await running.metrics()
        await _until(lambda: _more(running, key, first[key]))
        status, report = await running.health()
    assert status == 503 and report["status"] == "failing"
    cameras = report["cameras"]
    assert isinstance(cameras, dict)
    assert cameras["demo"]["healthy"] is True
    assert cameras["dead"]["healthy"] is False
    assert first['streamwatch_camera_up{camera="dead"}'] == 0.0
    assert "streamwatch_gate_frames_total" in " ".join(first)
    # Capture→gate-done is timed for every frame the gates took, and only for those.
    timed = first[gated]
    assert 0 < timed <= first[key]
    assert first['streamwatch_gate_latency_seconds_bucket{camera="demo",le="+Inf"}'] == timed
    assert first['streamwatch_gate_latency_seconds_sum{camera="demo"}'] / timed < 1.0


async def _more(running: Daemon, key: str, than: float) -> bool:
    return (await running.metrics()).get(key, 0) > than


async def test_a_restart_does_not_give_the_days_budget_back(tmp_path: Path) -> None:
    # Every call to the cloud is billed: a daemon restarted after its daily budget is spent
    # stays quiet (the local analyzer is free and spends no budget: the cloud's emulator here).
    async with LocalAnalyzer() as engine, serve_emulator(engine, api_key="k") as api_url:
        config = _config(
            tmp_path / "budget.toml",
            [("door", "demo")],
            "[budget]\ndaily_max_calls = 1\n\n"
            f'[analyzer]\nkind = "ailab"\nurl = "{api_url}"\napi_key = "k"\n',
        )
        async with daemon(config) as first:
            await first.log_until("daily budget of 1 calls spent")
            first.process.send_signal(signal.SIGTERM)
            assert await first.process.wait() == 0
        async with daemon(config) as second:
            values = await second.metrics()
    assert values["streamwatch_budget_calls_today"] == 1
    assert values["streamwatch_budget_calls_left_today"] == 0
