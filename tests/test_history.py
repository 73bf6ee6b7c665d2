"""The event store: what it keeps, how it is asked, and its limits (count, age, size), each one
reached and passed, on a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from streamwatch.analysis.model import Box
from streamwatch.config.history import HistorySettings
from streamwatch.events.kind import EventKind
from streamwatch.events.model import Event
from streamwatch.history import DropReason, EventQuery, History, HistorySink, Picture
from streamwatch.history.store import ORPHAN_S, EventStore, Retention
from tests.support.dispatching import dispatching

NOW_S = 1_800_000_000.0  # the wall clock the tests' store lives at
DAY_S = 86_400.0
GUARD_S = 15.0
ROOMY = Retention(max_events=1000, max_age_s=7 * DAY_S, max_bytes=100_000_000)


def event(
    kind: EventKind = EventKind.FACE_NEW,
    *,
    camera: str = "door",
    at_s: float = NOW_S,
    **data: Any,
) -> Event:
    return Event.create(
        kind,
        node="test",
        camera=camera,
        subject=f"{camera}-1",
        data={"camera": camera, **data},
        time=datetime.fromtimestamp(at_s, UTC),
    )


def ids(bodies: list[str]) -> list[str]:
    return [json.loads(body)["id"] for body in bodies]


def test_events_come_back_newest_first_and_filtered(tmp_path: Path) -> None:
    door = [event(at_s=NOW_S - 60 + n) for n in range(3)]
    hall = event(EventKind.FACE_MASKLESS, camera="hall", at_s=NOW_S - 10)
    with EventStore(tmp_path / "history.db", ROOMY) as store:
        for each in [*door, hall]:
            store.add(each, NOW_S)
        assert ids(store.query(EventQuery())) == [hall.id, *[e.id for e in reversed(door)]]
        assert ids(store.query(EventQuery(limit=2))) == [hall.id, door[2].id]
        assert ids(store.query(EventQuery(camera="hall"))) == [hall.id]
        maskless = EventQuery(kinds=(EventKind.FACE_MASKLESS, EventKind.CAMERA_OFFLINE))
        assert ids(store.query(maskless)) == [hall.id]
        since = datetime.fromtimestamp(NOW_S - 59, UTC)
        assert ids(store.query(EventQuery(since=since, camera="door"))) == [door[2].id, door[1].id]
        with pytest.raises(ValueError, match="limit"):
            store.query(EventQuery(limit=0))
    # A restart: all of it still there, as it was.
    with EventStore(tmp_path / "history.db", ROOMY) as store:
        assert store.stats.events == 4
        assert store.event(hall.id) == hall


def test_a_redelivered_event_is_kept_once_and_its_crop_is_not_in_the_json(tmp_path: Path) -> None:
    with_crop = event(crop_jpeg_base64="/9j/4AAQ")
    with EventStore(tmp_path / "history.db", ROOMY) as store:
        store.add(with_crop, NOW_S)
        store.add(with_crop, NOW_S)  # at least once: the outbox may send it again
        (body,) = store.query(EventQuery())
        assert store.stats.events == 1
    assert "crop_jpeg_base64" not in json.loads(body)["data"]


def test_the_count_limit_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    limits = Retention(max_events=3, max_age_s=ROOMY.max_age_s, max_bytes=ROOMY.max_bytes)
    events = [event(at_s=NOW_S + n) for n in range(5)]
    with EventStore(tmp_path / "history.db", limits) as store:
        for each in events[:3]:
            store.add(each, NOW_S)
        assert store.stats.dropped[DropReason.COUNT] == 0  # at the limit: nothing goes
        for each in events[3:]:
            store.add(each, NOW_S)
        assert ids(store.query(EventQuery())) == [e.id for e in reversed(events[2:])]
        assert store.stats.dropped[DropReason.COUNT] == 2
    with EventStore(tmp_path / "history.db", limits) as store:
        assert store.stats.dropped[DropReason.COUNT] == 2  # counted in the file


def test_the_age_limit_drops_old_events_on_a_write_and_while_idle(tmp_path: Path) -> None:
    week_s = 7 * DAY_S
    limits = Retention(max_events=1000, max_age_s=week_s, max_bytes=ROOMY.max_bytes)
    old, young = event(at_s=NOW_S - week_s - 1), event(at_s=NOW_S - week_s + 60)
    with EventStore(tmp_path / "history.db", limits) as store:
        store.add(young, NOW_S)
        store.add(old, NOW_S)  # already too old when it comes
        assert ids(store.query(EventQuery())) == [young.id]
        store.prune(NOW_S + 59)  # the young one is still (just) young
        assert store.stats.events == 1
        store.prune(NOW_S + 61)  # nothing written, the hour passes: it goes too
        assert store.stats.events == 0
        assert store.stats.dropped[DropReason.AGE] == 2


def test_the_size_limit_drops_the_oldest_events_with_their_pictures(tmp_path: Path) -> None:
    picture = bytes(200_000)
    limits = Retention(max_events=1000, max_age_s=ROOMY.max_age_s, max_bytes=1_000_000)
    alerts = [event(EventKind.FACE_MASKLESS, at_s=NOW_S + n) for n in range(6)]
    path = tmp_path / "history.db"
    with EventStore(path, limits) as store:
        for alert in alerts[:4]:  # 4 x 200 kB pictures and small events: under 1 MB
            store.keep_pictures(alert.id, picture, None, NOW_S)
            store.add(alert, NOW_S)
        assert store.stats.dropped[DropReason.SIZE] == 0
        for alert in alerts[4:]:
            store.keep_pictures(alert.id, picture, None, NOW_S)
            store.add(alert, NOW_S)
        assert store.stats.bytes <= limits.max_bytes
        kept = ids(store.query(EventQuery()))
        assert kept == [a.id for a in reversed(alerts[2:])]
        assert store.stats.dropped[DropReason.SIZE] == 2
        assert store.picture(alerts[0].id, Picture.FRAME) is None  # gone with its event
        assert store.picture(alerts[5].id, Picture.FRAME) == picture
    # The freed pages are given back: the file holds what is kept, not what ever was.
    assert path.stat().st_size < 2 * limits.max_bytes


def test_a_picture_whose_event_never_came_goes_after_an_hour(tmp_path: Path) -> None:
    with EventStore(tmp_path / "history.db", ROOMY) as store:
        store.keep_pictures("lost-event", b"jpeg", b"face", NOW_S)
        store.prune(NOW_S + ORPHAN_S - 1)
        assert store.picture("lost-event", Picture.FACE) == b"face"
        store.prune(NOW_S + ORPHAN_S + 1)
        assert store.picture("lost-event", Picture.FACE) is None
        assert store.stats.bytes == 0


def test_an_acknowledgement_is_found_by_the_alert_it_names(tmp_path: Path) -> None:
    alert = event(EventKind.FACE_MASKLESS)
    ack = event(EventKind.ALERT_ACKNOWLEDGED, alert_id=alert.id)
    with EventStore(tmp_path / "history.db", ROOMY) as store:
        store.add(alert, NOW_S)
        assert store.acknowledgement_of(alert.id) is None
        store.add(ack, NOW_S)
        assert store.acknowledgement_of(alert.id) == ack.id


def textured(height: int = 480, width: int = 640) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (height, width, 3), dtype=np.uint8)


def decode(jpeg: bytes | None) -> np.ndarray:
    assert jpeg is not None and jpeg[:3] == b"\xff\xd8\xff"
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


@pytest.mark.parametrize("blur", [False, True])
async def test_an_alarm_keeps_its_frame_and_face_pixelated_when_asked(
    tmp_path: Path, blur: bool
) -> None:
    image = textured()
    box = Box(200, 100, 120, 160)
    face = {"box_px": {"left": 200, "top": 100, "width": 120, "height": 160}}
    alert = event(EventKind.FACE_MASKLESS, face=face)
    new_face = event(EventKind.FACE_NEW, face=face)  # not an alarm: no pictures
    other = Box(450, 200, 100, 120)  # someone else in the picture
    settings = HistorySettings()
    async with History(
        tmp_path / "history.db",
        settings,
        alarm_kinds=(EventKind.FACE_MASKLESS,),
        blur_faces=blur,
        wall_s=lambda: NOW_S,
    ) as history:
        await history.keep_pictures([alert, new_face], image, [box, other])
        frame = decode(await history.picture(alert.id, Picture.FRAME))
        crop = decode(await history.picture(alert.id, Picture.FACE))
        assert await history.picture(new_face.id, Picture.FRAME) is None
    assert frame.shape == image.shape  # the whole frame, at its size
    inside, elsewhere = (slice(130, 230), slice(220, 300)), (slice(400, 470), slice(0, 150))
    others = (slice(220, 300), slice(470, 530))

    # Pixelated: the texture's spread is gone from both faces, and nowhere else.
    def pixelated(picture: np.ndarray) -> bool:
        return bool(picture.std() < image[inside].std() / 2)

    assert pixelated(frame[inside]) is blur
    assert pixelated(frame[others]) is blur
    assert not pixelated(frame[elsewhere])
    assert pixelated(crop) is blur


async def test_the_sink_opens_the_store_and_hands_it_every_event_from_the_outbox(
    tmp_path: Path,
) -> None:
    events = [event(at_s=NOW_S + n) for n in range(3)]
    history = History(tmp_path / "history.db", HistorySettings(), wall_s=lambda: NOW_S)
    async with dispatching(tmp_path / "outbox.db", [HistorySink(history)]) as dispatcher:
        for each in events:
            await dispatcher.submit(each)
        await dispatcher.wait_until(lambda: dispatcher.pending("history") == 0)
        assert ids(await history.query(EventQuery())) == [e.id for e in reversed(events)]
    with pytest.raises(RuntimeError, match="not running"):
        await history.query(EventQuery())  # closed with its sink


async def test_events_wait_in_the_outbox_while_the_history_cannot_write(tmp_path: Path) -> None:
    events = [event(EventKind.FACE_MASKLESS, at_s=NOW_S + n) for n in range(3)]
    history = History(
        tmp_path / "history.db",
        HistorySettings(),
        alarm_kinds=(EventKind.FACE_MASKLESS,),
        wall_s=lambda: NOW_S,
    )
    store = history._store

    def writable(yes: bool) -> None:  # the fault: every write fails in SQLite itself
        store._connection().execute(f"PRAGMA query_only = {0 if yes else 1}")

    async with (
        asyncio.timeout(GUARD_S),
        dispatching(tmp_path / "outbox.db", [HistorySink(history)]) as dispatcher,
    ):
        await history._thread.run(writable, False)
        # The alarm's pictures cannot be kept: logged, and the alarm goes out all the same.
        await history.keep_pictures(events[:1], np.zeros((480, 640, 3), np.uint8), [])
        for each in events:
            await dispatcher.submit(each)
        await dispatcher.wait_until(lambda: dispatcher.counters["history"].retried >= 2)
        assert dispatcher.pending("history") == 3  # waiting, not lost
        assert "readonly" in (dispatcher.counters["history"].last_error or "")
        await history._thread.run(writable, True)
        await dispatcher.wait_until(lambda: dispatcher.pending("history") == 0)
        assert ids(await history.query(EventQuery())) == [e.id for e in reversed(events)]
        assert await history.picture(events[0].id, Picture.FRAME) is None
