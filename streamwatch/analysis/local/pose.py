"""Head pose from the five points: a 3-D template fitted with solvePnP.

The template is an average adult face in millimetres (camera axes: x to the image's right,
y down, z away from the camera), from anthropometric means: pupils 63 mm apart, mouth 50 mm
wide and 63 mm below the eye line, the mouth corners 6 mm and the nose tip 24 mm in front
of the eyes. The nose tip's height is the calibrated value: pitch moves the nose along the
eye-mouth axis by ~4 degrees per millimetre, so 38 mm is the height at which the frontal
portrait that matplotlib ships (Grace Hopper) reads 0 degrees of pitch.

The camera is assumed to have a 53-degree field of view across its longer side (focal
length = longer side in pixels), which is typical of webcams and surveillance lenses; the
angles depend little on it for faces much smaller than the frame.

Signs: yaw > 0 when the nose points to the image's right, pitch > 0 when it points down,
roll > 0 when the face turns clockwise in the image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from streamwatch.analysis.model import Point, Pose

# Right eye, left eye, nose tip, right and left mouth corners (the subject's sides).
FACE_TEMPLATE_MM = np.array(
    [
        [-31.5, 0.0, 0.0],
        [31.5, 0.0, 0.0],
        [0.0, 38.0, -24.0],
        [-25.0, 63.0, -6.0],
        [25.0, 63.0, -6.0],
    ],
    dtype=np.float64,
)


def camera_matrix(image_width_px: int, image_height_px: int) -> np.ndarray:
    focal_px = float(max(image_width_px, image_height_px))
    return np.array(
        [
            [focal_px, 0.0, image_width_px / 2],
            [0.0, focal_px, image_height_px / 2],
            [0.0, 0.0, 1.0],
        ]
    )


def estimate_pose(points: tuple[Point, ...], image_width_px: int, image_height_px: int) -> Pose:
    image_points = np.array([(p.x, p.y) for p in points[:5]], dtype=np.float64)
    camera = camera_matrix(image_width_px, image_height_px)
    # EPnP gives a start without a guess; the iterative refinement then minimises the
    # reprojection error from there (alone, it can settle in the mirrored solution).
    _, rotation, translation = cv2.solvePnP(
        FACE_TEMPLATE_MM, image_points, camera, None, flags=cv2.SOLVEPNP_EPNP
    )
    _, rotation, translation = cv2.solvePnP(
        FACE_TEMPLATE_MM,
        image_points,
        camera,
        None,
        rotation,
        translation,
        useExtrinsicGuess=True,
        flags=cv2.SOLVEPNP_ITERATIVE,
    )
    matrix, _ = cv2.Rodrigues(rotation)
    pitch_deg, yaw_deg, roll_deg = cv2.RQDecomp3x3(matrix)[0]
    return Pose(
        yaw_deg=round(_wrap(-yaw_deg, 90.0), 1),
        pitch_deg=round(_wrap(pitch_deg, 90.0), 1),
        roll_deg=round(_wrap(roll_deg, 180.0), 1),
    )


def _wrap(angle_deg: float, limit_deg: float) -> float:
    """Into the contract's range: [-limit, limit]."""
    if limit_deg >= 180.0:
        return (angle_deg + 180.0) % 360.0 - 180.0
    return max(
        -limit_deg, min(limit_deg, math.degrees(math.asin(math.sin(math.radians(angle_deg)))))
    )
