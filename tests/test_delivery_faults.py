"""Delivery when the outbox file fails or is slow: an append that fails for one camera's events
while another camera's go out to a real webhook receiver, events lost and counted, a commit
behind another process's write lock, the pending counts kept in memory; and a whole App with
two file cameras, one of whose commits fail."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from streamwatch.app.health import health
from streamwatch.app.metrics import AppCollector
from streamwatch.app.runner import App
from streamwatch.config import Settings, WebhookSinkSettings
from streamwatch.delivery import Outbox, OutboxError, WebhookSink
from streamwatch.delivery.dispatcher import APPEND_ATTEMPTS
from streamwatch.events import Event

from .support.dispatching import dispatching
from .support.loop_lateness import loop_lateness
from .support.ports import free_port
from .support.webhook_receiver import webhook_receiver

# In every event's data: no log line may show it.
PRIVATE = "private-payload-7f3a"


def _event(n: int, camera: str, kind: str = "face.new") -> Event:
    data = {"n": n, "note": PRIVATE}
    return Event.create(kind, node="test", camera=camera, subject=f"{camera}-{n}", data=data)


def _webhook(url: str, **settings: object) -> WebhookSinkSettings:
    return WebhookSinkSettings.model_validate({"kind": "webhook", "url": url, **settings})


def _fail_appends(monkeypatch: pytest.MonkeyPatch, fails: Callable[[Event], bool]) -> None:
    """Appends of the events `fails` picks raise, as on a full disk; others are committed."""
    append = Outbox.append

    def failing(outbox: Outbox, event: Event) -> int:
        if fails(event):
            raise OutboxError(f"outbox {outbox.path}: database or disk is full")
        return append(outbox, event)

    monkeypatch.setattr(Outbox, "append", failing)


async def test_commits_failing_for_one_camera_lose_only_its_events_and_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    async with aiohttp.ClientSession() as session:
        sink = WebhookSink(_webhook(f"http://127.0.0.1:{port}/hook"), session)
        async with dispatching(tmp_path / "outbox.db", [sink]) as dispatcher:
            # Committed while the receiver is down: they wait in the outbox.
            held = [_event(0, "a"), _event(0, "b")]
            for event in held:
                await dispatcher.submit(event)

            full_for = {"a"}  # the cameras whose events find the disk full
            _fail_appends(monkeypatch, lambda event: event.camera in full_for)
            doomed = [_event(n, "a") for n in range(1, 4)]
            fine = [_event(n, "b") for n in range(1, 6)]

            async def camera(events: list[Event]) -> None:
                for event in events:
                    await dispatcher.submit(event)  # returns, lost or not

            async with webhook_receiver(port=port) as receiver:
                with caplog.at_level(logging.DEBUG, "streamwatch.delivery"):
                    await asyncio.gather(camera(doomed), camera(fine))
                    await receiver.wait_for(len(held) + len(fine))
                    await dispatcher.submit(_event(4, "a"))
                    assert not dispatcher.writes.healthy  # the last commit failed
                    full_for.clear()  # the disk has room again
                    mended = _event(5, "a")
                    await dispatcher.submit(mended)
                    assert dispatcher.writes.healthy
                    await receiver.wait_for(len(held) + len(fine) + 1)
                    await dispatcher.wait_until(lambda: dispatcher.pending(sink.name) == 0)

    # Every event committed, before the failures or between them, arrived, in order per camera.
    arrived = [r.event["id"] for r in receiver.received]
    assert arrived[:2] == [e.id for e in held]
    assert [i for i in arrived if i in {e.id for e in fine}] == [e.id for e in fine]
    assert arrived[-1] == mended.id
    assert not {e.id for e in doomed} & set(arrived)
    assert dispatcher.writes.lost == len(doomed) + 1
    assert dispatcher.writes.errors == (len(doomed) + 1) * APPEND_ATTEMPTS
    lost_lines = [r for r in caplog.records if r.levelno == logging.ERROR and "LOST" in r.message]
    assert len(lost_lines) == len(doomed) + 1
    for event, line in zip(doomed, lost_lines, strict=False):
        assert event.id in line.message and event.type in line.message
    assert PRIVATE not in caplog.text


async def test_an_event_that_cannot_be_written_at_all_is_lost_at_once_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A bug upstream: data that is not JSON. Trying again would not mend it.
    broken = Event.create("face.new", node="test", camera="a", subject=None, data={"x": object()})
    async with webhook_receiver() as receiver, aiohttp.ClientSession() as session:
        sink = WebhookSink(_webhook(receiver.url), session)
        async with dispatching(tmp_path / "outbox.db", [sink]) as dispatcher:
            with caplog.at_level(logging.ERROR, "streamwatch.delivery"):
                await dispatcher.submit(broken)
            fine = _event(1, "a")
            await dispatcher.submit(fine)
            (received,) = await receiver.wait_for(1)
    assert received.event["id"] == fine.id
    assert (dispatcher.writes.lost, dispatcher.writes.errors) == (1, 1)
    (line,) = [r.message for r in caplog.records if "LOST" in r.message]
    assert broken.id in line and "TypeError" in line


async def test_a_commit_behind_another_processs_write_lock_waits_off_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"
    async with webhook_receiver() as receiver, aiohttp.ClientSession() as session:
        sink = WebhookSink(_webhook(receiver.url), session)
        async with dispatching(path, [sink]) as dispatcher:
            # `streamwatch outbox purge`, or a sqlite3 shell, in the middle of a write.
            other = sqlite3.connect(path, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                asyncio.get_running_loop().call_later(1.0, other.execute, "ROLLBACK")
                async with loop_lateness() as lateness:
                    started_s = time.monotonic()
                    await dispatcher.submit(_event(1, "a"))
                    waited_s = time.monotonic() - started_s
            finally:
                other.close()
            await receiver.wait_for(1)
    assert waited_s >= 0.9  # it did wait for the lock (not committed around it)
    assert dispatcher.writes.lost == 0
    # Main blocked the loop for the whole wait; a generous bound, not a benchmark.
    assert lateness.max_s < 0.25, lateness.samples_s


async def test_pending_counts_in_memory_stay_those_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with webhook_receiver() as receiver, aiohttp.ClientSession() as session:
        receiver.fail_statuses = [400]  # the first alert is refused: a dead letter
        down = WebhookSink(_webhook(f"http://127.0.0.1:{free_port()}/hook"), session)
        alerts = WebhookSink(_webhook(receiver.url, event_types=["face.maskless"]), session)
        sinks = [down, alerts]
        async with dispatching(path, sinks, max_events=10, drain_timeout_s=0.1) as dispatcher:

            async def memory_and_file() -> tuple[dict[str, int], dict[str, int]]:
                """Both at one point in the outbox thread's sequence of commits."""

                def read(outbox: Outbox) -> tuple[dict[str, int], dict[str, int]]:
                    memory = {s.name: dispatcher.pending(s.name) for s in sinks}
                    file = {s.name: outbox.pending_count(s.name, s.accepts) for s in sinks}
                    memory["dropped_full"] = dispatcher.dropped_full
                    file["dropped_full"] = outbox.counter("dropped_full")
                    return memory, file

                return await dispatcher.outbox.call(read)

            kinds = ["face.maskless", "face.new", "camera.offline"]
            for n in range(15):  # the dead sink's 15 do not fit: 5 dropped
                await dispatcher.submit(_event(n, "a", kinds[n % 3]))
            await receiver.wait_for(4)
            await dispatcher.wait_until(lambda: dispatcher.pending(alerts.name) == 0)
            memory, file = await memory_and_file()
            assert memory == file == {down.name: 10, alerts.name: 0, "dropped_full": 5}

            # `streamwatch outbox retry --all`, from another process.
            assert await asyncio.to_thread(_retry_dead_letters, path) == 1
            await receiver.wait_for(5)
            await dispatcher.wait_until(lambda: dispatcher.counters[alerts.name].delivered == 5)
            memory, file = await memory_and_file()
            assert memory == file == {down.name: 10, alerts.name: 0, "dropped_full": 5}

            # `streamwatch outbox purge --pending --sink …`, from another process.
            await asyncio.to_thread(_purge_pending, path, down.name)
            await dispatcher.wait_until(lambda: dispatcher.pending(down.name) == 0)
            await dispatcher.submit(_event(15, "a", "face.maskless"))
            await receiver.wait_for(6)
            await dispatcher.wait_until(lambda: dispatcher.pending(alerts.name) == 0)
            memory, file = await memory_and_file()
            assert memory == file == {down.name: 1, alerts.name: 0, "dropped_full": 5}


def _retry_dead_letters(path: Path) -> int:
    with Outbox(path) as other:
        return other.retry()


def _purge_pending(path: Path, sink: str) -> int:
    with Outbox(path) as other:
        return other.purge_pending(sink)


async def test_an_app_whose_commits_fail_for_one_camera_runs_on_with_both(
    media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = media_dir / "videos" / "head_pose_2people.mp4"  # two faces from the first frame
    full_for = {"a"}
    _fail_appends(monkeypatch, lambda event: event.camera in full_for)
    async with webhook_receiver() as receiver:
        settings = Settings.model_validate(
            {
                "node": "test",
                "cameras": [{"name": name, "source": str(clip)} for name in ("a", "b")],
                "sinks": [{"kind": "webhook", "url": receiver.url}],
                "overlay": {"web": False},
                "status": {"enabled": False},
            }
        )
        stop = asyncio.Event()
        async with App(settings) as app:
            running = asyncio.create_task(app.run(stop))
            try:
                dispatcher = app.dispatcher
                await receiver.wait_until(
                    lambda: len(receiver.events_of_type("face.maskless")) == 2, timeout_s=60
                )
                await dispatcher.wait_until(lambda: dispatcher.writes.lost >= 2)  # a's faces
                cameras = [t for t in asyncio.all_tasks() if t.get_name().startswith("camera ")]
                assert sorted(t.get_name() for t in cameras if not t.done()) == [
                    "camera a",
                    "camera b",
                ]
                assert not running.done()

                # Every commit fails now: health and metrics say so.
                full_for.add("b")
                await dispatcher.submit(_event(1, "b"))
                report = health(app)
                (outbox,) = report["outbox"].values()
                assert report["status"] == "failing" and outbox["healthy"] is False
                assert outbox["events_lost"] == dispatcher.writes.lost
                assert "database or disk is full" in outbox["last_error"]
                lost = _metric(app, "streamwatch_events_lost_total")
                errors = _metric(app, "streamwatch_outbox_write_errors_total")
                # (a's later events may be between their attempts)
                assert lost == dispatcher.writes.lost and errors >= lost * APPEND_ATTEMPTS
            finally:
                stop.set()
                await running
    sources = {r.event["source"] for r in receiver.received}
    assert sources == {"streamwatch://test/b"}


def _metric(app: App, sample_name: str) -> float:
    (value,) = [
        sample.value
        for family in AppCollector(app).collect()
        for sample in family.samples
        if sample.name == sample_name
    ]
    return value
