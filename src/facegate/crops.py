"""Pre-aligned face crops: a whole image that is one face, as public face datasets publish them.

Two layouts are common: ArcFace's 112×112 (insightface's 5-point template; 112×96 crops are the same cut 8 px
narrower each side) and FaceNet's 160×160 (the MTCNN box plus margin FaceGate's own TEMPLATE describes). A crop
has no face for the detector to find, or one that fills it; FaceGate then takes the whole image as the face, with
the layout's landmarks, and the aligner maps them onto its template as it does a detected face's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facegate.align import TEMPLATE, landmark_matrix
from facegate.detect.base import Face


@dataclass(frozen=True)
class CropLayout:
    """Where the 5 landmarks (l-eye, r-eye, nose, l-mouth, r-mouth) lie in a crop of width×height pixels."""

    name: str
    width: int
    height: int
    landmarks: np.ndarray

    def landmarks_in(self, width: int, height: int) -> np.ndarray:
        """The landmarks in a crop of another size: scaled by the height, centred across the width."""
        scale = height / self.height
        shift = (width - self.width * scale) / 2
        return (self.landmarks * scale + np.array([shift, 0.0])).astype(np.float32)


# insightface's arcface_dst (face_align.py): the reference points of the 112×112 crops of MS1M, Glint360K, etc.
ARCFACE = CropLayout(
    "arcface",
    112,
    112,
    np.array(
        [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
        np.float32,
    ),
)
FACENET = CropLayout("facenet", 160, 160, TEMPLATE)
# Crops are small and nearly square; a larger or oblong image is a photo, whatever the detector finds in it.
MAX_CROP_SIDE = 224
MAX_ASPECT = 1.25  # 112×96 (SphereFace, CosFace) is 1.17
# The whole image must pass MTCNN's R-Net and O-Net as a face (their own thresholds): random 112 and 160 px crops
# of scenery photos score 0.0005-0.28 on O-Net, aligned LFW crops 0.978-1.0.
WHOLE_FACE_SCORE = 0.7


def layout_for(width: int, height: int) -> CropLayout:
    """The layout a crop of this size most likely has: ArcFace's near 112 px, FaceNet's otherwise."""
    return ARCFACE if 96 <= max(width, height) <= 128 else FACENET


def looks_like_crop(image: np.ndarray) -> bool:
    """Whether the image could be a dataset's face crop: at most MAX_CROP_SIDE and roughly square."""
    height, width = image.shape[:2]
    return max(width, height) <= MAX_CROP_SIDE and max(width, height) <= MAX_ASPECT * min(width, height)


def whole_image_face(image: np.ndarray, score: float = 1.0) -> Face:
    """The whole image as one face, with the landmarks of its crop layout."""
    height, width = image.shape[:2]
    landmarks = layout_for(width, height).landmarks_in(width, height)
    return Face(box=(0.0, 0.0, float(width), float(height)), score=score, landmarks=landmarks)


def make_crop(image: np.ndarray, face: Face, layout: CropLayout) -> np.ndarray:
    """The face cut out the way a dataset of this layout publishes it (for tests and benchmarks of crops)."""
    if face.landmarks is None:
        raise ValueError("a layout crop needs the face's landmarks")
    matrix = landmark_matrix(face.landmarks, layout.landmarks)
    if matrix is None:
        raise ValueError("degenerate landmarks: the face cannot be aligned")
    return cv2.warpAffine(image, matrix, (layout.width, layout.height), flags=cv2.INTER_LINEAR)
