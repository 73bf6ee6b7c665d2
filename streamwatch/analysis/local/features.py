"""What the five points tell by their geometry alone: pupils and smile.

- Pupils: YuNet's eye points are trained on eye centres, which is where the pupil is when
  the eye looks ahead. The radius is the iris's, from anthropometric means: an iris 11.7 mm
  across for pupils 63 mm apart, so 0.093 of the eye distance.
- Smile: a smile pulls the mouth corners apart. At rest the mouth is ~50 mm wide for pupils
  63 mm apart (0.79 of the eye distance); a smile widens it by a fifth or more (~0.97).
  The threshold is the midpoint, 0.88. Both distances are horizontal, so a turned head
  shortens them alike and the ratio holds.
"""

from __future__ import annotations

import math

from streamwatch.analysis.model import Expression, Point, Pupil

IRIS_RADIUS_PER_EYE_DISTANCE = 0.093
SMILE_MOUTH_WIDTH_PER_EYE_DISTANCE = 0.88


def eye_distance_px(points: tuple[Point, ...]) -> float:
    right_eye, left_eye = points[0], points[1]
    return math.dist((right_eye.x, right_eye.y), (left_eye.x, left_eye.y))


def pupils(points: tuple[Point, ...]) -> tuple[Pupil, Pupil]:
    """(left, right) as the contract orders them: the subject's left eye first."""
    right_eye, left_eye = points[0], points[1]
    radius_px = IRIS_RADIUS_PER_EYE_DISTANCE * eye_distance_px(points)
    return (Pupil(left_eye.x, left_eye.y, radius_px), Pupil(right_eye.x, right_eye.y, radius_px))


def mouth_width_ratio(points: tuple[Point, ...]) -> float:
    right_mouth, left_mouth = points[3], points[4]
    mouth_px = math.dist((right_mouth.x, right_mouth.y), (left_mouth.x, left_mouth.y))
    return mouth_px / max(eye_distance_px(points), 1.0)


def expression(points: tuple[Point, ...]) -> Expression:
    smiling = mouth_width_ratio(points) >= SMILE_MOUTH_WIDTH_PER_EYE_DISTANCE
    return Expression.SMILE if smiling else Expression.NEUTRAL
