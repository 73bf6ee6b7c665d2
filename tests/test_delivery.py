"""Delivery through the outbox to real receivers: an aiohttp webhook receiver on 127.0.0.1 that
is down, refuses, asks to wait; JSON-lines files with rotation, on a slow disk; `streamwatch
outbox retry`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from standardwebhooks.webhooks import Webhook

from streamwatch.config import JsonLinesSinkSettings, WebhookSinkSettings
from streamwatch.delivery import (
    DeliveryError,
    JsonLinesSink,
    Outbox,
    WebhookSink,
)
from streamwatch.delivery.webhook import retry_after_s
from streamwatch.events import Event

from .support.dispatching import dispatching
from .support.loop_lateness import loop_lateness
from .support.ports import free_port
from .support.webhook_receiver import webhook_receiver

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _event(n: int, camera: str = "door", kind: str = "face.new") -> Event:
    return Event.create(kind, node="test", camera=camera, subject=f"{camera}-{n}", data={"n": n})


def _webhook(url: str, **settings: Any) -> WebhookSinkSettings:
    return WebhookSinkSettings(kind="webhook", url=url, **settings)


async def test_jsonl_sink_appends_and_rotates_by_size(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    settings = JsonLinesSinkSettings(kind="jsonl", path=str(path), rotate_mb=0.002, keep_files=2)
    events = [_event(n) for n in range(30)]
    async with JsonLinesSink(settings) as sink:
        for event in events:
            await sink.deliver(event)
    kept = _rotated_ids(tmp_path, "events.jsonl", keep_files=2, max_bytes=2000)
    # The newest events, in order, the oldest rotated away.
    assert kept == [event.id for event in events[-len(kept) :]]
    assert len(kept) < len(events)


def _rotated_ids(folder: Path, name: str, *, keep_files: int, max_bytes: int) -> list[str]:
    """The event ids in a rotated set of files, oldest first, checking their names and sizes."""
    names = [f"{name}.{index}" for index in range(keep_files, 0, -1)] + [name]
    assert sorted(path.name for path in folder.iterdir()) == sorted(names)
    assert all((folder / n).stat().st_size <= max_bytes for n in names)
    return [json.loads(line)["id"] for n in names for line in (folder / n).read_text().splitlines()]


async def test_a_slow_disk_under_the_json_lines_sink_does_not_stall_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        time.sleep(0.3)  # a stand-in for an SD card in a bad mood
        fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    path = tmp_path / "events.jsonl"
    events = [_event(n) for n in range(3)]
    settings = JsonLinesSinkSettings(kind="jsonl", path=str(path))
    async with JsonLinesSink(settings) as sink, loop_lateness() as lateness:
        for event in events:
            await sink.deliver(event)
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == [
        e.id for e in events
    ]
    assert lateness.max_s < 0.2, lateness.samples_s


async def test_webhook_is_signed_as_standard_webhooks_says() -> None:
    async with webhook_receiver() as receiver, aiohttp.ClientSession() as session:
        event = _event(1)
        await WebhookSink(_webhook(receiver.url, secret=SECRET), session).deliver(event)
        (received,) = await receiver.wait_for(1)
    assert received.headers["webhook-id"] == event.id
    assert Webhook(SECRET).verify(received.body, received.headers)["id"] == event.id
    assert received.headers["Content-Type"] == "application/cloudevents+json"


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (404, False), (410, False), (301, False), (408, True),
     (429, True), (500, True), (503, True)],
)  # fmt: skip
async def test_webhook_answers_decide_retry_or_dead_letter(status: int, retryable: bool) -> None:
    async with webhook_receiver() as receiver, aiohttp.ClientSession() as session:
        receiver.fail_statuses = [status]
        with pytest.raises(DeliveryError) as failed:
            await WebhookSink(_webhook(receiver.url), session).deliver(_event(1))
    assert failed.value.retryable is retryable
    assert str(failed.value).endswith(f"HTTP {status}")


async def test_webhook_time_outs_and_refused_connections_are_retryable() -> None:
    async def never_answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    silent_port = server.sockets[0].getsockname()[1]
    async with server, aiohttp.ClientSession() as session:
        for url in (f"http://127.0.0.1:{silent_port}/hook", f"http://127.0.0.1:{free_port()}/"):
            with pytest.raises(DeliveryError) as failed:
                await WebhookSink(_webhook(url, timeout_s=0.3), session).deliver(_event(1))
            assert failed.value.retryable
            assert "127.0.0.1" in str(failed.value)  # the sink's name: host, never the path
            assert "/hook" not in str(failed.value)


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    assert retry_after_s("7") == 7.0
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


async def test_receiver_down_then_up_gets_every_event_in_order_with_stable_ids(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    events = [_event(n, camera) for n in range(4) for camera in ("door", "yard")]
    async with aiohttp.ClientSession() as session:
        sink = WebhookSink(_webhook(url, secret=SECRET), session)
        async with dispatching(tmp_path / "outbox.db", [sink]) as dispatcher:
            for event in events:
                await dispatcher.submit(event)
            # Down: nothing listens on the port; wait until it has been tried a few times.
            await asyncio.wait_for(
                dispatcher.wait_until(lambda: dispatcher.counters[sink.name].retried >= 3), 10
            )
            async with webhook_receiver(port=port) as receiver:
                # Up, but busy at first: a 503 then a 500.
                receiver.fail_statuses = [503, 500]
                received = await receiver.wait_for(len(events))
                await asyncio.wait_for(
                    dispatcher.wait_until(lambda: dispatcher.pending(sink.name) == 0), 10
                )
            assert await dispatcher.outbox.call(Outbox.held) == 0
    assert [r.event["id"] for r in received] == [e.id for e in events]
    for camera in ("door", "yard"):
        ids = [r.event["id"] for r in received if r.event["source"].endswith(camera)]
        assert ids == [e.id for e in events if e.camera == camera]
    # Every attempt of an event carried its id, and each signature verifies.
    assert len(receiver.attempts) == len(events) + 2
    for attempt in receiver.attempts:
        assert attempt.headers["webhook-id"] == attempt.event["id"]
        Webhook(SECRET).verify(attempt.body, attempt.headers)
    assert receiver.attempts[0].event["id"] == events[0].id == receiver.attempts[2].event["id"]
    counters = dispatcher.counters[sink.name]
    assert counters.delivered == len(events) and counters.dead_lettered == 0


async def test_retry_after_is_honoured(tmp_path: Path) -> None:
    async with webhook_receiver() as receiver, aiohttp.ClientSession() as session:
        receiver.fail_statuses = [429]
        receiver.fail_headers = {"Retry-After": "1"}
        sink = WebhookSink(_webhook(receiver.url), session)
        async with dispatching(tmp_path / "outbox.db", [sink]) as dispatcher:
            await dispatcher.submit(_event(1))
            await receiver.wait_for(1)
    first, second = receiver.attempts
    # Back-off alone would have tried again within 0.02 s; the receiver asked for 1 s.
    assert second.at_s - first.at_s >= 0.95


async def test_refused_event_is_a_dead_letter_and_outbox_retry_redrives_it(
    tmp_path: Path, state_dir: Path
) -> None:
    refused, later = _event(1), _event(2)
    async with webhook_receiver() as receiver, aiohttp.ClientSession() as session:
        receiver.fail_statuses = [400]
        sink = WebhookSink(_webhook(receiver.url), session)
        async with dispatching(state_dir / "outbox.db", [sink]) as dispatcher:
            await dispatcher.submit(refused)
            await dispatcher.submit(later)
            (first,) = await receiver.wait_for(1)
            assert first.event["id"] == later.id  # the sink moved on past the refused one
            (letter,) = await dispatcher.outbox.call(Outbox.dead_letters)
            assert (letter.event.id, letter.error) == (refused.id, f"{sink.name}: HTTP 400")

            listing = await _streamwatch("outbox", "list", config=_config(tmp_path, receiver.url))
            assert f"#{letter.number}" in listing and refused.id in listing
            assert "HTTP 400" in listing

            output = await _streamwatch("outbox", "retry", "--all")
            assert output.startswith("1 dead letter(s) queued again")
            # The running dispatcher notices within its poll interval: no restart needed.
            (_, again) = await receiver.wait_for(2)
            assert again.event["id"] == refused.id
            assert await dispatcher.outbox.call(Outbox.dead_letters) == []
        assert dispatcher.counters[sink.name].dead_lettered == 1


async def test_each_endpoint_gets_only_the_event_types_it_asked_for(tmp_path: Path) -> None:
    events = [
        _event(1, kind="face.new"),
        _event(1, kind="face.maskless"),
        _event(2, kind="camera.offline"),
        _event(3, kind="face.left"),
        _event(4, kind="camera.online"),
    ]
    async with (
        webhook_receiver() as alerts,
        webhook_receiver() as cameras,
        aiohttp.ClientSession() as session,
    ):
        sinks = [
            WebhookSink(_webhook(alerts.url, event_types=["face.maskless"]), session),
            WebhookSink(_webhook(cameras.url, event_types=["streamwatch.camera.*"]), session),
        ]
        async with dispatching(tmp_path / "outbox.db", sinks) as dispatcher:
            for event in events:
                await dispatcher.submit(event)
            await alerts.wait_for(1)
            await cameras.wait_for(2)
            await asyncio.wait_for(
                dispatcher.wait_until(lambda: all(dispatcher.pending(s.name) == 0 for s in sinks)),
                10,
            )
            assert await dispatcher.outbox.call(Outbox.held) == 0
    assert [r.event["type"] for r in alerts.received] == ["streamwatch.face.maskless"]
    assert [r.event["type"] for r in cameras.received] == [
        "streamwatch.camera.offline",
        "streamwatch.camera.online",
    ]


async def test_what_was_not_delivered_by_a_stop_goes_out_after_the_restart(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    events = [_event(n) for n in range(3)]
    async with aiohttp.ClientSession() as session:
        sink = WebhookSink(_webhook(url), session)
        async with dispatching(tmp_path / "outbox.db", [sink], drain_timeout_s=0.2) as down:
            for event in events:
                await down.submit(event)
        async with webhook_receiver(port=port) as receiver:
            sink = WebhookSink(_webhook(url), session)
            async with dispatching(tmp_path / "outbox.db", [sink]):
                received = await receiver.wait_for(3)
    assert [r.event["id"] for r in received] == [e.id for e in events]


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "streamwatch.toml"
    path.write_text(f'[[sinks]]\nkind = "webhook"\nurl = "{url}"\n')
    return path


async def _streamwatch(*args: str, config: Path | None = None) -> str:
    """Run the streamwatch command (it finds the outbox through $STREAMWATCH_STATE_DIR)."""
    options = ["--config", str(config)] if config else []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streamwatch",
        *args,
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()
