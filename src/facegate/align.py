"""Faces → 160×160 crops in the geometry FaceNet was trained on.

FaceNet (Sandberg, 20170512) was trained on un-rotated MTCNN crops: the box plus a margin, resized to 182 px
and centre-cropped to 160. Two ways to reproduce that:
- "crop": the same box-plus-margin crop (no rotation); the only option for Haar faces, which have no landmarks;
- "warp": a similarity transform (rotation, scale, shift) of the 5 landmarks onto TEMPLATE, the mean landmark
  positions of upright faces in "crop" geometry, so tilted faces come out upright as well.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from facegate.detect.base import Face

SIZE = 160
# Margin per side as a fraction of the box, then the 160-of-182 centre crop of training: the crop spans
# box × (1 + 2·MARGIN) × 160/182 around the box centre.
MARGIN = 0.145
SPAN = (1 + 2 * MARGIN) * 160 / 182

# Landmarks (l-eye, r-eye, nose, l-mouth, r-mouth) in a 160×160 "crop" of an upright face: the mean over 1,395
# upright MTCNN detections in LFW DevTrain photos, mirrored left/right (benchmarks/derive_template.py).
TEMPLATE = np.array([[48.1, 64.0], [111.9, 64.0], [80.0, 91.8], [51.6, 115.9], [108.4, 115.9]], dtype=np.float32)

Alignment = Literal["warp", "crop"]


def crop_matrix(face: Face) -> np.ndarray:
    """2×3 affine matrix taking the face's box-plus-margin region to the 160×160 output (no rotation)."""
    x1, y1, x2, y2 = face.box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    sx, sy = SIZE / ((x2 - x1) * SPAN), SIZE / ((y2 - y1) * SPAN)
    return np.array([[sx, 0, SIZE / 2 - sx * cx], [0, sy, SIZE / 2 - sy * cy]], dtype=np.float64)


def landmark_matrix(landmarks: np.ndarray, template: np.ndarray) -> np.ndarray | None:
    """2×3 similarity matrix (least squares) taking 5 landmarks onto a template; None when they are degenerate."""
    matrix, _ = cv2.estimateAffinePartial2D(landmarks.astype(np.float32), template, method=cv2.LMEDS)
    return matrix


def warp_matrix(face: Face) -> np.ndarray:
    """2×3 similarity matrix (least squares) taking the face's 5 landmarks onto TEMPLATE."""
    if face.landmarks is None:
        raise ValueError("warp alignment needs landmarks; use alignment='crop' for detectors without them")
    matrix = landmark_matrix(face.landmarks, TEMPLATE)
    return crop_matrix(face) if matrix is None else matrix  # degenerate landmarks: fall back to the plain crop


def align(image: np.ndarray, faces: list[Face], alignment: Alignment = "warp") -> np.ndarray:
    """Aligned RGB crops, N×160×160×3 uint8, one per face (faces without landmarks are always cropped)."""
    crops = np.zeros((len(faces), SIZE, SIZE, 3), dtype=np.uint8)
    for i, face in enumerate(faces):
        use_warp = alignment == "warp" and face.landmarks is not None
        matrix = warp_matrix(face) if use_warp else crop_matrix(face)
        crops[i] = cv2.warpAffine(image, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return crops
