"""Head-rotation geometry from MTCNN's 5 landmarks (eyes, nose, mouth corners as seen in the image).

A real head turning moves the nose tip, which stands ~0.6 eye-distances in front of the eyes and mouth, across
the face; a flat print or screen moved, scaled, rotated or tilted maps all five points by one plane projective
transform, so the nose stays where the plane of the other four carries it. `yaw` measures the turn, `nose_parallax`
how far the nose left that plane.
"""

from __future__ import annotations

import numpy as np

EYES_MOUTH = [0, 1, 3, 4]  # left eye, right eye, mouth left, mouth right: the points a flat picture keeps coplanar
NOSE = 2


def _points(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks as a 5×2 float64 array, or a ValueError for anything else."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2) or not np.all(np.isfinite(points)):
        raise ValueError(f"expected 5 landmarks as a 5x2 array of finite numbers, got shape {points.shape}")
    return points


def eye_distance(landmarks: np.ndarray) -> float:
    """Distance between the eyes in pixels: the face's scale."""
    points = _points(landmarks)
    return float(np.linalg.norm(points[1] - points[0]))


def yaw(landmarks: np.ndarray) -> float:
    """Head yaw proxy: the nose's offset from the eye midpoint along the eye line, in eye distances.

    About 0 facing the camera, positive when the nose points to the image's right (the person turned to their left
    in an unmirrored camera), ±0.3 near 25°, unchanged by in-plane rotation, scale and translation."""
    points = _points(landmarks)
    axis = points[1] - points[0]
    distance = float(np.linalg.norm(axis))
    if distance < 1e-6:
        raise ValueError("the two eye landmarks coincide")
    return float(np.dot(points[NOSE] - points[:2].mean(axis=0), axis) / distance**2)


def _affine(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The least-squares 2-D affine transform (2×3) taking `source` points to `target` points."""
    design = np.hstack([source, np.ones((len(source), 1))])
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    return np.asarray(solution.T)


def nose_parallax(reference: np.ndarray, current: np.ndarray) -> float:
    """How far the nose moved off the plane of the eyes and mouth between two views of a face, in eye distances.

    The affine transform that best carries the reference's eyes and mouth corners onto the current ones predicts
    where the nose of a flat picture would be; the miss, measured across the eye line in the current view, is the
    parallax of a nose standing out of that plane (near 0 for a print moved, scaled, rotated or tilted)."""
    before, after = _points(reference), _points(current)
    transform = _affine(before[EYES_MOUTH], after[EYES_MOUTH])
    predicted = transform[:, :2] @ before[NOSE] + transform[:, 2]
    axis = after[1] - after[0]
    distance = float(np.linalg.norm(axis))
    if distance < 1e-6:
        raise ValueError("the two eye landmarks coincide")
    return float(np.dot(after[NOSE] - predicted, axis) / distance**2)


def width_ratio(reference: np.ndarray, current: np.ndarray) -> float:
    """How much narrower the face got: eye distance over eyes-to-mouth height, now against the reference.

    A real 30° turn gives about 0.87; a print tilted far enough (60° and more) for the landmark network to misplace
    the nose is squashed to half its width or less."""
    return _width_over_height(_points(current)) / _width_over_height(_points(reference))


def _width_over_height(points: np.ndarray) -> float:
    height = float(np.linalg.norm(points[3:].mean(axis=0) - points[:2].mean(axis=0)))
    if height < 1e-6:
        raise ValueError("the eyes and the mouth landmarks coincide")
    return float(np.linalg.norm(points[1] - points[0])) / height
