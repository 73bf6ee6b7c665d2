"""The web live view over real HTTP on 127.0.0.1: pages, streams, the feed, and the token."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import pytest

from streamwatch.analysis.model import Mask
from streamwatch.config import load_settings
from streamwatch.config.serving import OverlaySettings, is_loopback_host
from streamwatch.overlay.auth import COOKIE_NAME
from streamwatch.overlay.board import SceneBoard
from streamwatch.overlay.web import LiveViewServer, build_live_view, serve_live_view
from tests.support.scenes import make_event, make_frame, make_scene, make_track

GUARD_S = 10.0  # failure guard only: every wait below ends on an event, not on time
STREAM_WIDTH_PX = 320
TOKEN = "correct-horse-battery-staple-42"


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
    # An unsafe jar keeps cookies of IP-address hosts (127.0.0.1), as browsers do.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(timeout=timeout, cookie_jar=jar) as session:
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


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image


async def test_pages_link_the_grid_each_camera_and_the_kiosks(
    live_view: LiveViewServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(live_view.url) as response:
        assert response.status == 200 and response.content_type == "text/html"
        assert response.headers["Content-Security-Policy"] == "default-src 'self'"
        page = await response.text()
    assert 'src="grid.mjpg"' in page and 'href="camera/door"' in page
    assert "static/live.js" in page and "<script>" not in page  # no inline script
    async with http.get(live_view.url + "camera/door") as response:
        page = await response.text()
    assert 'src="../stream/door.mjpg?landmarks=0"' in page and 'id="landmarks"' in page
    async with http.get(live_view.url + "kiosk/door") as response:
        kiosk = await response.text()
    assert 'class="kiosk"' in kiosk and 'src="../stream/door.mjpg?view=visitor"' in kiosk
    assert "<input" not in kiosk and "<a " not in kiosk  # nothing to click
    async with http.get(live_view.url + "kiosk") as response:
        assert 'src="./grid.mjpg?view=visitor"' in await response.text()
    async with http.get(live_view.url + "static/common.js") as response:
        assert response.status == 200 and "EventSource" in await response.text()


async def test_camera_stream_sends_overlay_jpegs_at_the_configured_width(
    board: SceneBoard, live_view: LiveViewServer, http: aiohttp.ClientSession
) -> None:
    board.publish(make_scene(make_frame(sequence=1), tracks=(make_track(Mask.NONE),)))
    async with http.get(live_view.url + "stream/cam.mjpg") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
        first = decode(await read_mjpeg_part(response.content))
        board.publish(make_scene(make_frame(sequence=2)))
        second = decode(await read_mjpeg_part(response.content))
    assert first.shape == second.shape == (180, 320, 3)
    red = np.array([0, 0, 230])
    assert np.abs(first[90, 100].astype(int) - red).max() < 40  # the box's left edge (JPEG)
    assert np.abs(second[90, 100].astype(int) - red).max() > 100  # no track: no box


async def test_grid_stream_composes_every_camera(
    board: SceneBoard, live_view: LiveViewServer, http: aiohttp.ClientSession
) -> None:
    board.publish(make_scene(make_frame("door")))
    async with http.get(live_view.url + "grid.mjpg") as response:
        grid = decode(await read_mjpeg_part(response.content))
    # Two 159 px tiles side by side; "cam" has no picture yet: its tile says it is waiting.
    assert grid.shape[1] == STREAM_WIDTH_PX and grid.shape[0] == round(159 / (16 / 9))


async def test_snapshot_is_a_jpeg_once_there_is_a_picture(
    board: SceneBoard, live_view: LiveViewServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(live_view.url + "snapshot/cam.jpg") as response:
        assert response.status == 503
    board.publish(make_scene())
    async with http.get(live_view.url + "snapshot/cam.jpg?landmarks=1") as response:
        assert response.status == 200 and response.content_type == "image/jpeg"
        assert decode(await response.read()).shape[1] == STREAM_WIDTH_PX
    async with http.get(live_view.url + "snapshot/cam.jpg?landmarks=maybe") as response:
        assert response.status == 400


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
    "path",
    ["camera/nope", "kiosk/nope", "stream/nope.mjpg", "snapshot/nope.jpg", "static/nope.js"],
)
async def test_unknown_camera_or_file_is_404(
    path: str, live_view: LiveViewServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(live_view.url + path) as response:
        assert response.status == 404


async def test_shutdown_ends_open_streams(board: SceneBoard, http: aiohttp.ClientSession) -> None:
    settings = OverlaySettings(web_host="127.0.0.1", web_port=0, stream_width_px=STREAM_WIDTH_PX)
    board.publish(make_scene())
    async with serve_live_view(board, settings) as server:
        stream = await http.get(server.url + "stream/cam.mjpg")
        await read_mjpeg_part(stream.content)
        feed = await http.get(server.url + "events")
        assert await feed.content.readline() == b": subscribed\n"
    # The server is gone and both streams ended instead of holding shutdown up.
    assert (await stream.content.read()).endswith(b"--frame--\r\n")
    assert (await feed.content.read()).strip() == b"retry: 1000"
    stream.release()
    feed.release()


# --- the token -------------------------------------------------------------------------------


@pytest.fixture
async def open_to_the_network(board: SceneBoard) -> AsyncIterator[str]:
    """The live view bound to every address, with a token; its URL by 127.0.0.1."""
    settings = OverlaySettings(
        web_host="0.0.0.0", web_port=0, token=TOKEN, stream_width_px=STREAM_WIDTH_PX
    )
    board.publish(make_scene())
    async with serve_live_view(board, settings) as server:
        yield f"http://127.0.0.1:{server.port}/"


@pytest.mark.parametrize(
    "path",
    ["", "camera/cam", "kiosk/cam", "grid.mjpg", "stream/cam.mjpg", "events", "static/live.js"],
)
async def test_a_network_bind_refuses_every_request_without_the_token(
    path: str, open_to_the_network: str, http: aiohttp.ClientSession
) -> None:
    async with http.get(open_to_the_network + path) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="streamwatch"'
        assert TOKEN not in await response.text()
    wrong = {"Authorization": "Bearer " + TOKEN[:-1] + "x"}
    async with http.get(open_to_the_network + path, headers=wrong) as response:
        assert response.status == 401
    async with http.get(open_to_the_network + path + "?token=nope") as response:
        assert response.status == 401


async def test_a_page_opened_with_the_token_trades_it_for_a_cookie(
    open_to_the_network: str, http: aiohttp.ClientSession
) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    url = open_to_the_network + f"kiosk/cam?token={TOKEN}&x=1"
    async with http.get(url, headers=html, allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == "cam?x=1"  # relative, and without the token
        cookie = response.cookies[COOKIE_NAME]
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        assert TOKEN not in cookie.value
    # What the page then loads carries the cookie only, as a browser's <img> and EventSource.
    async with http.get(open_to_the_network + "kiosk/cam?x=1") as response:
        assert response.status == 200
    async with http.get(open_to_the_network + "stream/cam.mjpg") as response:
        assert response.status == 200 and decode(await read_mjpeg_part(response.content)).size
    async with http.get(open_to_the_network + "events") as response:
        assert await response.content.readline() == b": subscribed\n"


async def test_scripts_may_send_the_token_as_a_header_or_in_a_stream_url(
    open_to_the_network: str,
) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=GUARD_S)) as http:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(open_to_the_network + "snapshot/cam.jpg", headers=bearer) as response:
            assert response.status == 200
        async with http.get(open_to_the_network + f"stream/cam.mjpg?token={TOKEN}") as response:
            assert response.status == 200  # no redirect for a viewer that keeps no cookies
            assert decode(await read_mjpeg_part(response.content)).size


async def test_the_token_never_reaches_the_logs(
    open_to_the_network: str, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page = open_to_the_network + f"camera/cam?token={TOKEN}"
    async with http.get(page, headers={"Accept": "text/html"}) as response:
        assert response.status == 200  # redirected, then served with the cookie
    async with http.get(open_to_the_network + f"snapshot/cam.jpg?token={TOKEN}") as response:
        assert response.status == 200
    async with http.get(open_to_the_network + "snapshot/cam.jpg") as response:
        assert response.status == 200  # the session's cookie
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET /camera/cam 303" in logged and "GET /snapshot/cam.jpg 200" in logged
    assert TOKEN not in logged


async def test_the_announced_address_says_a_token_is_needed_but_not_which(
    board: SceneBoard,
) -> None:
    settings = OverlaySettings(web_port=0, token=TOKEN)
    async with serve_live_view(board, settings) as server:
        announced = str(server)
    assert announced.startswith(server.url) and "?token=<overlay.token>" in announced
    assert TOKEN not in announced


def test_settings_refuse_a_network_bind_without_a_token(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="set token"):
        OverlaySettings(web_host="0.0.0.0")
    with pytest.raises(ValueError, match="at least 16 characters"):
        OverlaySettings(token="short")
    OverlaySettings(web_host="0.0.0.0", web=False)  # no live view, nothing to protect
    token_file = tmp_path / "view_token"
    token_file.write_text(TOKEN + "\n")
    config = tmp_path / "kiosk.toml"
    config.write_text('[overlay]\nweb_host = "0.0.0.0"\ntoken_file = "view_token"\n')
    settings = load_settings(config).overlay
    assert settings.token is not None and settings.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings)


def test_an_unchecked_network_bind_without_a_token_is_refused_too(board: SceneBoard) -> None:
    # model_copy skips validation, as the CLI's overrides do: the server checks again.
    settings = OverlaySettings().model_copy(update={"web_host": "192.0.2.7"})
    with pytest.raises(ValueError, match=r"set overlay\.token"):
        build_live_view(board, settings)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("kiosk.lan", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
