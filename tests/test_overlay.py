"""The overlay: drawing, the scene board, the shared JPEG, the web live view, window helpers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import cv2
import numpy as np
import pytest

from streamwatch.analysis.model import Box, Face, Gender, Glasses, Mask, Point
from streamwatch.capture.frame import Frame
from streamwatch.config.model import OverlaySettings
from streamwatch.events.model import Event
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.draw import (
    MASK_COLOURS,
    STALE_COLOUR,
    draw_scene,
    resize_to_width,
    track_label,
)
from streamwatch.overlay.scene import Scene
from streamwatch.overlay.shared_jpeg import SharedJpeg
from streamwatch.overlay.web import LiveViewServer, serve_live_view
from streamwatch.overlay.window import GUI_FIX, WindowControls, apply_key, gui_backend, require_gui
from streamwatch.tracking.track import Track

GUARD_S = 10.0  # failure guard only: every wait below ends on an event, not on time
STREAM_WIDTH_PX = 320


def make_frame(
    camera: str = "cam", sequence: int = 1, *, width_px: int = 640, height_px: int = 360
) -> Frame:
    image = np.full((height_px, width_px, 3), 64, dtype=np.uint8)
    image.setflags(write=False)
    return Frame(camera, sequence, timestamp_s=1000.0, monotonic_s=50.0, image=image)


def make_track(mask: Mask | None, *, box: Box | None = None, camera: str = "cam") -> Track:
    face = Face(
        box_px=box or Box(200, 100, 120, 160),
        probability=0.99,
        landmarks_px=(Point(240, 160), Point(280, 160)),
        gender=Gender.FEMALE,
        age=34,
        glasses=Glasses.NONE,
        mask=mask,
    )
    return Track(f"{camera}-1", camera, face, first_seen_s=990.0, last_seen_s=1000.0, analyses=3)


def make_scene(
    frame: Frame | None = None,
    *,
    tracks: tuple[Track, ...] = (),
    events: tuple[Event, ...] = (),
    last_analysis_monotonic_s: float | None = 50.0,
) -> Scene:
    return Scene(
        frame=frame or make_frame(),
        tracks=tracks,
        recent_events=events,
        fps_in=25.0,
        last_analysis_monotonic_s=last_analysis_monotonic_s,
    )


def make_event(camera: str = "cam", kind: str = "face.maskless") -> Event:
    return Event.create(kind, node="test", camera=camera, subject=f"{camera}-1", data={"n": 1})


# --- drawing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [Mask.WORN, Mask.NONE, Mask.INCORRECT, None])
def test_box_edges_take_the_mask_colour_and_the_source_stays_untouched(mask: Mask | None) -> None:
    scene = make_scene(tracks=(make_track(mask),), events=(make_event(),))
    before = scene.frame.image.copy()

    image = draw_scene(scene, now_monotonic_s=51.0, show_landmarks=True)

    colour = list(MASK_COLOURS[mask])
    assert image[180, 200].tolist() == colour  # left edge, halfway down
    assert image[180, 320].tolist() == colour  # right edge
    assert image[260, 260].tolist() == colour  # bottom edge
    assert not np.shares_memory(image, scene.frame.image)
    assert np.array_equal(scene.frame.image, before)


def test_mask_colours_are_distinct() -> None:
    assert len(set(MASK_COLOURS.values())) == len(MASK_COLOURS) == 4


def test_label_names_the_track_and_its_known_attributes() -> None:
    assert track_label(make_track(Mask.NONE)) == "cam-1 34y F no glasses no mask"
    unknown = Track("cam-2", "cam", Face(Box(0, 0, 10, 10), 0.9), 0.0, 0.0, 1)
    assert track_label(unknown) == "cam-2"


def test_stale_badge_appears_only_when_the_analysis_is_old() -> None:
    top_right = (slice(0, 60), slice(400, 640))  # the badge's corner, empty otherwise
    source = make_frame().image[top_right]

    def corner(last_analysis_monotonic_s: float | None) -> np.ndarray:
        scene = make_scene(last_analysis_monotonic_s=last_analysis_monotonic_s)
        return draw_scene(scene, now_monotonic_s=100.0, stale_after_s=5.0)[top_right]

    assert np.array_equal(corner(98.0), source)  # 2 s old: fresh
    assert np.array_equal(corner(None), source)  # nothing analysed yet: nothing to be stale
    stale = corner(90.0)  # 10 s old
    assert not np.array_equal(stale, source)
    assert np.all(stale == STALE_COLOUR, axis=-1).sum() > 100


def test_draw_scene_resizes_before_drawing_and_scales_the_boxes() -> None:
    scene = make_scene(tracks=(make_track(Mask.WORN),))
    image = draw_scene(scene, now_monotonic_s=51.0, width_px=320)
    assert image.shape == (180, 320, 3)
    assert image[90, 100].tolist() == list(MASK_COLOURS[Mask.WORN])  # left edge at half scale


def test_resize_to_width_keeps_the_aspect_ratio_and_copies() -> None:
    image = make_frame().image
    assert resize_to_width(image, 160).shape == (90, 160, 3)
    same = resize_to_width(image, 640)
    assert same.shape == image.shape and not np.shares_memory(same, image)
    with pytest.raises(ValueError, match="width_px"):
        resize_to_width(image, 0)


# --- board -----------------------------------------------------------------------------------


async def test_next_scene_wakes_on_publish() -> None:
    board = SceneBoard(["cam"])
    first = make_scene(make_frame(sequence=1))
    board.publish(first)
    assert await board.next_scene("cam", None) is first  # one is there already: no wait

    waiter = asyncio.create_task(board.next_scene("cam", after_sequence=1))
    await asyncio.sleep(0)  # one loop step: lets the waiter reach its wait (not a timed sleep)
    assert not waiter.done()
    second = make_scene(make_frame(sequence=2))
    board.publish(second)
    assert await asyncio.wait_for(waiter, GUARD_S) is second
    assert board.latest("cam") is second


def test_unknown_camera_is_a_key_error_naming_the_cameras() -> None:
    board = SceneBoard(["cam", "door"])
    with pytest.raises(KeyError, match=r"unknown camera 'nope'.*cam, door"):
        board.latest("nope")
    with pytest.raises(ValueError, match="unique"):
        SceneBoard(["cam", "cam"])


async def test_publishing_a_scene_of_an_unknown_camera_fails() -> None:
    with pytest.raises(KeyError, match="unknown camera"):
        SceneBoard(["cam"]).publish(make_scene(make_frame("other")))


async def test_a_slow_subscriber_loses_its_oldest_events() -> None:
    board = SceneBoard(["cam"], event_queue_size=2)
    events = [make_event() for _ in range(3)]
    async with board.subscribe_events() as subscription:
        for event in events:
            board.publish_event(event)  # never waits, however far behind the subscriber is
        assert await anext(subscription) is events[1]
        assert await anext(subscription) is events[2]
        assert subscription.dropped_events == 1
    board.publish_event(make_event())  # no subscribers left: nothing to do


# --- shared JPEG -----------------------------------------------------------------------------


async def test_viewers_share_one_encode_per_scene() -> None:
    board = SceneBoard(["cam"])
    rendered: list[int] = []

    def render(scene: Scene, _now_monotonic_s: float) -> bytes:
        rendered.append(scene.frame.sequence)
        return b"jpeg"

    shared = SharedJpeg(board, "cam", render, reuse_for_s=GUARD_S)
    board.publish(make_scene(make_frame(sequence=7)))
    encoded = await asyncio.gather(*(shared.next_jpeg(None) for _ in range(5)))
    assert {frame.sequence for frame in encoded} == {7}
    assert rendered == [7]


# --- web live view ---------------------------------------------------------------------------


@pytest.fixture
def board() -> SceneBoard:
    return SceneBoard(["cam", "door"])


@pytest.fixture
async def live_view(board: SceneBoard) -> AsyncIterator[LiveViewServer]:
    settings = OverlaySettings(
        web_host="127.0.0.1", web_port=0, stream_fps=30, stream_width_px=STREAM_WIDTH_PX
    )
    async with serve_live_view(board, settings) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=GUARD_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session


async def read_mjpeg_part(content: aiohttp.StreamReader) -> bytes:
    """The JPEG of the next multipart/x-mixed-replace part."""
    assert await content.readline() == b"--frame\r\n"
    headers: dict[str, str] = {}
    while (line := await content.readline()) != b"\r\n":
        name, _, value = line.decode("ascii").partition(":")
        headers[name.strip().lower()] = value.strip()
    assert headers["content-type"] == "image/jpeg"
    jpeg = await content.readexactly(int(headers["content-length"]))
    assert await content.readexactly(2) == b"\r\n"
    return jpeg


def decoded_width_px(jpeg: bytes) -> int:
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return int(image.shape[1])


async def test_index_page_shows_every_camera_stream(
    live_view: LiveViewServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(live_view.url) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert 'src="stream/cam.mjpg"' in page and 'src="stream/door.mjpg"' in page
    assert "EventSource" not in page and "static/live.js" in page  # the feed's script
    async with http.get(live_view.url + "static/live.js") as response:
        assert response.status == 200 and "EventSource" in await response.text()
    async with http.get(live_view.url + "camera/door") as response:
        assert response.status == 200 and "../stream/door.mjpg" in await response.text()


async def test_mjpeg_stream_sends_jpegs_at_the_configured_width(
    board: SceneBoard, live_view: LiveViewServer, http: aiohttp.ClientSession
) -> None:
    board.publish(make_scene(make_frame(sequence=1), tracks=(make_track(Mask.NONE),)))
    async with http.get(live_view.url + "stream/cam.mjpg") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
        first = await read_mjpeg_part(response.content)
        board.publish(make_scene(make_frame(sequence=2), events=(make_event(),)))
        second = await read_mjpeg_part(response.content)
    assert decoded_width_px(first) == decoded_width_px(second) == STREAM_WIDTH_PX
    assert first != second


async def test_snapshot_is_a_jpeg_once_there_is_a_picture(
    board: SceneBoard, live_view: LiveViewServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(live_view.url + "snapshot/cam.jpg") as response:
        assert response.status == 503
    board.publish(make_scene())
    async with http.get(live_view.url + "snapshot/cam.jpg") as response:
        assert response.status == 200 and response.content_type == "image/jpeg"
        assert decoded_width_px(await response.read()) == STREAM_WIDTH_PX


async def test_event_feed_delivers_events_published_after_subscribing(
    board: SceneBoard, live_view: LiveViewServer, http: aiohttp.ClientSession
) -> None:
    event = make_event("door")
    async with http.get(live_view.url + "events") as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert await response.content.readline() == b": subscribed\n"
        board.publish_event(event)
        data_line = b""
        while not data_line.startswith(b"data: "):
            data_line = await response.content.readline()
    document = json.loads(data_line.removeprefix(b"data: "))
    assert document == json.loads(event.to_json())


@pytest.mark.parametrize(
    "path", ["camera/nope", "stream/nope.mjpg", "snapshot/nope.jpg", "static/nope.js"]
)
async def test_unknown_camera_or_file_is_404(
    path: str, live_view: LiveViewServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(live_view.url + path) as response:
        assert response.status == 404


async def test_shutdown_ends_open_streams(board: SceneBoard, http: aiohttp.ClientSession) -> None:
    settings = OverlaySettings(web_host="127.0.0.1", web_port=0, stream_width_px=STREAM_WIDTH_PX)
    board.publish(make_scene())
    async with asyncio.timeout(GUARD_S):
        async with serve_live_view(board, settings) as server:
            stream = await http.get(server.url + "stream/cam.mjpg")
            await read_mjpeg_part(stream.content)
            feed = await http.get(server.url + "events")
            assert await feed.content.readline() == b": subscribed\n"
        # The server is gone and both streams ended instead of holding shutdown up.
        assert (await stream.content.read()).endswith(b"--frame--\r\n")
        assert (await feed.content.read()).strip() == b""
        stream.release()
        feed.release()


# --- window ----------------------------------------------------------------------------------


def test_gui_backend_reads_the_build_information() -> None:
    assert gui_backend("General:\n  GUI:                           QT5\n") == "QT5"
    assert gui_backend("  GUI:                           NONE\n") is None
    assert gui_backend("no such line") is None


def test_missing_gui_is_an_error_with_the_fix() -> None:
    with pytest.raises(RuntimeError) as raised:
        require_gui("  GUI:   NONE", environ={"DISPLAY": ":0"}, platform="linux")
    assert GUI_FIX in str(raised.value)
    with pytest.raises(RuntimeError, match="DISPLAY"):
        require_gui("  GUI:   GTK3", environ={}, platform="linux")
    assert require_gui("  GUI:   GTK3", environ={"DISPLAY": ":0"}, platform="linux") == "GTK3"


def test_keys_toggle_landmarks_and_full_screen_and_quit() -> None:
    controls = WindowControls(show_landmarks=False)
    assert apply_key(controls, -1) == controls
    assert apply_key(controls, ord("l")).show_landmarks
    assert apply_key(apply_key(controls, ord("f")), ord("f")) == controls
    assert apply_key(controls, ord("q")).quit
