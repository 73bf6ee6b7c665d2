"""Boxes that follow the face between detections.

The local face gate moves a track a few times a second and the picture changes every frame,
so a box drawn where the face was last seen trails a walking person. The track's smoothed
velocity carries it to the time of the frame being drawn — never further than `max_ahead_s`,
so a face that stopped being detected does not drift off across the picture.
"""

from __future__ import annotations

from streamwatch.analysis.model import Face
from streamwatch.tracking.track import Track


def followed_face(track: Track, at_s: float, *, max_ahead_s: float) -> Face:
    """The track's face where its velocity has taken it by `at_s` (the frames' monotonic time)."""
    ahead_s = min(max(at_s - track.last_seen_s, 0.0), max_ahead_s)
    velocity_x_px_s, velocity_y_px_s = track.velocity_px_s
    if ahead_s == 0.0 or (velocity_x_px_s == 0.0 and velocity_y_px_s == 0.0):
        return track.face
    return track.face.moved(velocity_x_px_s * ahead_s, velocity_y_px_s * ahead_s)
