"""Enrollment quality checks: one clear face, big enough, sharp enough, seen from the front.

Each check gives a figure and, when it fails, a sentence that tells the user what to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from facegate import settings
from facegate.detect.base import Face

# Variance of the Laplacian of the 160×160 grey aligned crop. The 118 5-celebrity photos measure 12–876 (1st
# percentile 15, median 199); the same crops blurred with a Gaussian of σ = 3 px all drop to 2.7–7.0.
MIN_SHARPNESS = 10.0
# Yaw proxy: the nose's position along the eye line, 0 at the left eye, 1 at the right eye; 0.5 is frontal. The
# 5-celebrity photos lie in 0.19–0.83 (5th–95th percentile); beyond an eye (below 0 or above 1) is a profile.
NOSE_RANGE = (0.1, 0.9)


@dataclass(frozen=True)
class Quality:
    """Quality figures of one face and the reasons (if any) to refuse it."""

    face_px: float
    sharpness: float
    nose_position: float | None
    faces_found: int
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons

    def figures(self) -> dict[str, float | int | None]:
        """JSON-ready figures (what the database keeps with a sample)."""
        return {
            "face_px": round(self.face_px, 1),
            "sharpness": round(self.sharpness, 1),
            "nose_position": None if self.nose_position is None else round(self.nose_position, 3),
            "faces_found": self.faces_found,
        }


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of an aligned RGB crop: low means blurred."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def nose_position(landmarks: np.ndarray) -> float:
    """Where the nose lies between the eyes along the eye line (0 left eye, 1 right eye)."""
    left, right, nose = (np.asarray(landmarks[i], np.float64) for i in range(3))
    axis = right - left
    return float(np.dot(nose - left, axis) / max(np.dot(axis, axis), 1e-9))


def assess(
    face: Face, crop: np.ndarray, faces_found: int, largest: bool = False, min_face_px: float | None = None
) -> Quality:
    """Check the face (with its aligned crop) against every enrollment rule; `largest` accepts group photos;
    min_face_px: the shorter side of the face box at least (default: $FACEGATE_ENROLL_MIN_FACE, else 40)."""
    min_face_px = min_face_px or settings.current().enroll_min_face
    reasons = []
    if faces_found > 1 and not largest:
        reasons.append(f"{faces_found} faces in the photo; enroll a photo of one person (or ask for the largest face)")
    side = min(face.width, face.height)
    if side < min_face_px:  # floored: a 39.6 px face is "39 px", never "40 px; at least 40 px is needed"
        reasons.append(
            f"face is {math.floor(side)} px; at least {min_face_px:g} px is needed (use a closer or "
            "larger photo, or a lower --min-face)"
        )
    sharp = sharpness(crop)
    if sharp < MIN_SHARPNESS:
        reasons.append(f"face is blurred (sharpness {sharp:.0f}, at least {MIN_SHARPNESS:.0f} needed)")
    position = None
    if face.landmarks is not None:
        position = nose_position(face.landmarks)
        eyes_above_mouth = face.landmarks[:2, 1].max() < face.landmarks[3:, 1].min()
        if not (NOSE_RANGE[0] <= position <= NOSE_RANGE[1]) or not eyes_above_mouth:
            reasons.append("face is turned away (profile or implausible landmarks); use a frontal photo")
    return Quality(face_px=side, sharpness=sharp, nose_position=position, faces_found=faces_found, reasons=reasons)
