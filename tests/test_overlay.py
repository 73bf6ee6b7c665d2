"""The overlay's pure parts: drawing, following, privacy, the grid, the board, the shared JPEG."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import numpy as np
import pytest

from streamwatch.analysis.fallback import AnalysisMode, AnalysisState, FallbackReason
from streamwatch.analysis.model import Box, Face, Mask
from streamwatch.config.serving import OverlaySettings
from streamwatch.events.kind import EventKind
from streamwatch.overlay.board import SceneBoard, Snapshot
from streamwatch.overlay.draw import (
    MASK_COLOURS,
    STALE_COLOUR,
    DrawOptions,
    draw_scene,
    resize_to_width,
    stale_reason,
    track_label,
)
from streamwatch.overlay.follow import followed_face
from streamwatch.overlay.grid import grid_tiles, render_view
from streamwatch.overlay.panels import banner_opacity
from streamwatch.overlay.privacy import blur_boxes
from streamwatch.overlay.scene import Scene
from streamwatch.overlay.shared_jpeg import SharedJpeg
from streamwatch.overlay.style import DEGRADED_COLOUR, EVENT_STYLES, LANDMARK_COLOUR
from streamwatch.overlay.window import (
    GUI_FIX,
    WindowControls,
    apply_key,
    gui_backend,
    require_gui,
    window_views,
)
from streamwatch.tracking.track import Track
from tests.support.scenes import (
    FRAME_MONOTONIC_S,
    FRAME_TIME_S,
    make_event,
    make_frame,
    make_scene,
    make_track,
)

GUARD_S = 10.0  # failure guard only: every wait below ends on an event, not on time
NOW_S = FRAME_MONOTONIC_S + 0.1  # drawn a tenth of a second after the frame was read


def pixels_of(image: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(image == colour, axis=-1).sum())


def textured_frame() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (360, 640, 3), dtype=np.uint8)


# --- boxes, labels, landmarks ----------------------------------------------------------------


@pytest.mark.parametrize("mask", [Mask.WORN, Mask.NONE, Mask.INCORRECT, None])
def test_box_edges_take_the_mask_colour_and_the_source_stays_untouched(mask: Mask | None) -> None:
    scene = make_scene(tracks=(make_track(mask),), events=(make_event(),))
    before = scene.frame.image.copy()

    image = draw_scene(scene, now_monotonic_s=NOW_S, options=DrawOptions(show_landmarks=True))

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
    unknown = Track("cam-2", "cam", Face(Box(0, 0, 10, 10), 0.9), 0.0, 0.0, 0.0, 1)
    assert track_label(unknown) == "cam-2"


def test_landmarks_and_pupils_are_drawn_only_when_asked() -> None:
    scene = make_scene(tracks=(make_track(Mask.WORN),))
    face = (slice(100, 260), slice(200, 320))
    shown = draw_scene(scene, now_monotonic_s=NOW_S, options=DrawOptions(show_landmarks=True))
    hidden = draw_scene(scene, now_monotonic_s=NOW_S)
    assert pixels_of(shown[face], LANDMARK_COLOUR) > 10
    assert pixels_of(hidden[face], LANDMARK_COLOUR) == 0


def test_draw_scene_resizes_before_drawing_and_scales_the_boxes() -> None:
    scene = make_scene(tracks=(make_track(Mask.WORN),))
    image = draw_scene(scene, now_monotonic_s=NOW_S, width_px=320)
    assert image.shape == (180, 320, 3)
    assert image[90, 100].tolist() == list(MASK_COLOURS[Mask.WORN])  # left edge at half scale


def test_resize_to_width_keeps_the_aspect_ratio_and_copies() -> None:
    image = make_frame().image
    assert resize_to_width(image, 160).shape == (90, 160, 3)
    same = resize_to_width(image, 640)
    assert same.shape == image.shape and not np.shares_memory(same, image)
    with pytest.raises(ValueError, match="width_px"):
        resize_to_width(image, 0)


# --- boxes follow the face -------------------------------------------------------------------


def test_a_box_moves_along_the_track_velocity_up_to_the_limit() -> None:
    track = make_track(Mask.WORN, velocity_px_s=(100.0, -20.0), last_seen_s=FRAME_MONOTONIC_S - 0.5)
    half_second = followed_face(track, FRAME_MONOTONIC_S, max_ahead_s=1.0)
    assert (half_second.box_px.left, half_second.box_px.top) == (250.0, 90.0)
    assert half_second.landmarks_px[0].x == 290.0 and half_second.pupils_px is not None
    assert half_second.pupils_px[1].x == 330.0
    late = followed_face(track, FRAME_MONOTONIC_S + 10, max_ahead_s=1.0)
    assert late.box_px.left == 300.0  # one second ahead at most: no drift across the picture
    assert followed_face(track, FRAME_MONOTONIC_S, max_ahead_s=0.0) is track.face
    assert followed_face(track, FRAME_MONOTONIC_S - 5, max_ahead_s=1.0) is track.face  # older frame


def test_the_drawn_box_is_where_the_face_is_in_this_frame() -> None:
    track = make_track(Mask.NONE, velocity_px_s=(100.0, 0.0), last_seen_s=FRAME_MONOTONIC_S - 0.5)
    image = draw_scene(make_scene(tracks=(track,)), now_monotonic_s=NOW_S)
    red = list(MASK_COLOURS[Mask.NONE])
    assert image[180, 250].tolist() == red  # the left edge, 50 px on from where it was seen
    assert image[180, 200].tolist() != red


# --- stale badge -----------------------------------------------------------------------------


def test_an_idle_camera_dealt_with_up_to_its_picture_is_not_stale() -> None:
    scene = make_scene(analysis_lag_s=0.0)
    assert stale_reason(scene, FRAME_MONOTONIC_S + 1, stale_after_s=5.0) is None
    nothing_yet = make_scene(analysis_lag_s=None)
    assert stale_reason(nothing_yet, FRAME_MONOTONIC_S + 1, stale_after_s=5.0) is None


def test_stale_when_the_picture_stops_or_the_faces_lag_behind_it() -> None:
    frozen = make_scene()
    assert stale_reason(frozen, FRAME_MONOTONIC_S + 9, 5.0) == "STALE: no new picture for 9 s"
    lagging = make_scene(analysis_lag_s=12.0)
    assert stale_reason(lagging, NOW_S, 5.0) == "STALE: faces 12 s behind the picture"


def test_the_stale_badge_is_drawn_only_when_stale() -> None:
    top_right = (slice(0, 60), slice(400, 640))
    scene = make_scene()
    fresh = draw_scene(scene, now_monotonic_s=NOW_S)[top_right]
    assert np.array_equal(fresh, scene.frame.image[top_right])
    stale = draw_scene(scene, now_monotonic_s=FRAME_MONOTONIC_S + 10)[top_right]
    assert pixels_of(stale, STALE_COLOUR) > 100


def test_the_on_device_fallback_is_shown_under_the_status_line() -> None:
    top_left = (slice(0, 120), slice(0, 400))
    scene = make_scene()
    as_configured = draw_scene(scene, now_monotonic_s=NOW_S)[top_left]
    assert pixels_of(as_configured, DEGRADED_COLOUR) == 0
    fallback = replace(scene, analysis=AnalysisState(AnalysisMode.FALLBACK, FallbackReason.CREDITS))
    assert pixels_of(draw_scene(fallback, now_monotonic_s=NOW_S)[top_left], DEGRADED_COLOUR) > 500


# --- event banner ----------------------------------------------------------------------------


def test_banner_opacity_is_full_then_fades_then_gone() -> None:
    assert banner_opacity(0.0, 6.0) == banner_opacity(3.0, 6.0) == 1.0
    assert banner_opacity(4.5, 6.0) == pytest.approx(0.5)
    assert banner_opacity(6.0, 6.0) == banner_opacity(1.0, 0.0) == 0.0
    assert banner_opacity(-5.0, 6.0) == 0.0  # an event from the future: a clock jumped


def test_the_newest_event_shows_as_a_banner_in_its_colour_that_fades() -> None:
    bottom = (slice(340, 360), slice(0, 640))
    event = make_event(kind="face.maskless", time_s=FRAME_TIME_S)
    scene = make_scene(events=(make_event(kind="face.new", time_s=FRAME_TIME_S - 1), event))
    red = EVENT_STYLES[EventKind.FACE_MASKLESS][1]
    options = DrawOptions(banner_s=6.0)

    def banner_at(age_s: float) -> np.ndarray:
        return draw_scene(scene, now_monotonic_s=FRAME_MONOTONIC_S + age_s, options=options)

    assert pixels_of(banner_at(1.0)[bottom], red) > 1000
    fading = banner_at(4.5)[bottom]
    assert pixels_of(fading, red) == 0 and not np.array_equal(fading, scene.frame.image[bottom])
    assert np.array_equal(banner_at(7.0)[bottom], scene.frame.image[bottom])


# --- privacy ---------------------------------------------------------------------------------


def test_blur_boxes_pixelates_the_face_and_nothing_else() -> None:
    image = textured_frame()
    blurred = blur_boxes(image, [Box(200, 100, 120, 160)], margin=0.0, cells=8)
    assert np.array_equal(image, textured_frame())  # the source is left alone
    face = blurred[100:260, 200:320]
    # 8 cells across: 15 px blocks, each one flat colour.
    assert len(np.unique(face.reshape(-1, 3), axis=0)) <= 8 * 11
    assert np.array_equal(blurred[:, :190], image[:, :190])
    assert np.array_equal(blurred[270:], image[270:])


def test_a_crop_can_be_blurred_whole_for_events() -> None:
    crop = textured_frame()[:96, :80]
    blurred = blur_boxes(crop, [Box(0, 0, 80, 96)])
    assert blurred.shape == crop.shape and blurred.std() < crop.std() / 2


def test_the_overlay_blurs_tracked_faces_when_asked() -> None:
    frame = make_frame(image=textured_frame())
    scene = make_scene(frame, tracks=(make_track(Mask.WORN),))
    inside = (slice(120, 240), slice(215, 305))  # within the box, clear of its edges and label
    plain = draw_scene(scene, now_monotonic_s=NOW_S)
    private = draw_scene(scene, now_monotonic_s=NOW_S, options=DrawOptions(blur_faces=True))
    assert np.array_equal(plain[inside], frame.image[inside])
    assert private[inside].std() < frame.image[inside].std() / 2
    assert private[180, 200].tolist() == list(MASK_COLOURS[Mask.WORN])  # the box is still drawn


# --- grid ------------------------------------------------------------------------------------


def test_grid_tiles_fill_rows_of_equal_16_9_tiles() -> None:
    assert grid_tiles(1, 640)[0].width == 640
    tiles = grid_tiles(3, 642)  # 2 columns, 2 rows, 2 px gap
    assert [(tile.left, tile.top) for tile in tiles] == [(0, 0), (322, 0), (0, 182)]
    assert {(tile.width, tile.height) for tile in tiles} == {(320, 180)}


def test_a_grid_shows_each_camera_in_its_tile_and_waits_for_the_missing() -> None:
    scene = make_scene(tracks=(make_track(Mask.NONE),))
    image = render_view(
        ["cam", "door"],
        [scene, None],
        now_monotonic_s=NOW_S,
        options=DrawOptions(),
        width_px=642,
    )
    assert image.shape == (180, 642, 3)
    assert image[90, 100].tolist() == list(MASK_COLOURS[Mask.NONE])  # cam's box, half scale
    assert pixels_of(image[:, 322:], MASK_COLOURS[Mask.NONE]) == 0


# --- board -----------------------------------------------------------------------------------


async def test_next_snapshot_wakes_on_a_publish_of_its_cameras() -> None:
    board = SceneBoard(["cam", "door"])
    first = make_scene(make_frame(sequence=1))
    board.publish(first)
    snapshot = await board.next_snapshot(["cam"], None)  # one is there already: no wait
    assert snapshot == Snapshot(1, (first,))

    waiter = asyncio.create_task(board.next_snapshot(["cam"], after_version=1))
    board.publish(make_scene(make_frame("door")))  # another camera: not a change of "cam"
    await asyncio.sleep(0)  # one loop step: lets the waiter see it (not a timed sleep)
    assert not waiter.done()
    second = make_scene(make_frame(sequence=1))  # a restarted reader's sequence: still new
    board.publish(second)
    assert await asyncio.wait_for(waiter, GUARD_S) == Snapshot(2, (second,))
    assert board.snapshot(["cam", "door"]).version == 3


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


async def test_viewers_share_one_encode_per_picture() -> None:
    board = SceneBoard(["cam"])
    rendered: list[int] = []

    def render(snapshot: Snapshot, _now_monotonic_s: float) -> bytes:
        rendered.append(snapshot.version)
        return b"jpeg"

    shared = SharedJpeg(board, ["cam"], render, reuse_for_s=GUARD_S, redraw_after_s=GUARD_S)
    board.publish(make_scene(make_frame(sequence=7)))
    encoded = await asyncio.gather(*(shared.next_jpeg(None) for _ in range(5)))
    assert {frame.version for frame in encoded} == {1}
    assert rendered == [1]


async def test_an_unchanged_picture_is_drawn_again_when_due() -> None:
    board = SceneBoard(["cam"])
    scenes: list[Scene | None] = []

    def render(snapshot: Snapshot, _now_monotonic_s: float) -> bytes:
        scenes.extend(snapshot.scenes)
        return b"jpeg"

    # Reuse nothing, redraw at once: the camera sent nothing new, yet a new picture comes.
    shared = SharedJpeg(board, ["cam"], render, reuse_for_s=0.0, redraw_after_s=0.0)
    board.publish(make_scene())
    first = await shared.next_jpeg(None)
    second = await asyncio.wait_for(shared.next_jpeg(first), GUARD_S)
    assert second is not first and second.version == first.version == 1
    assert len(scenes) == 2 and scenes[0] is scenes[1]


# --- window helpers --------------------------------------------------------------------------


def test_windows_are_one_per_camera_or_one_grid() -> None:
    assert window_views(["cam", "door"], grid=False) == {
        "streamwatch: cam": ("cam",),
        "streamwatch: door": ("door",),
    }
    assert window_views(["cam", "door"], grid=True) == {"streamwatch": ("cam", "door")}


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


def test_draw_options_follow_the_settings() -> None:
    settings = OverlaySettings(blur_faces=True, show_landmarks=True, stale_after_s=2.0)
    options = DrawOptions.from_settings(settings)
    assert (options.blur_faces, options.show_landmarks, options.stale_after_s) == (True, True, 2.0)
    assert not DrawOptions.from_settings(settings, show_landmarks=False).show_landmarks
    assert replace(options, max_events=0).max_events == 0
