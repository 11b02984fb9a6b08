"""OpenCV's Haar cascade: the cheap baseline detector (boxes only, no landmarks)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facegate.detect.base import Face, largest_first
from facegate.errors import ModelError

CASCADE = "haarcascade_frontalface_default.xml"


class HaarDetector:
    """Viola-Jones frontal face cascade; faces smaller than `min_face` pixels are ignored."""

    name = "haar"

    def __init__(self, min_face: int = 20, scale_factor: float = 1.1, min_neighbors: int = 5) -> None:
        path = Path(cv2.data.haarcascades) / CASCADE if hasattr(cv2, "data") else Path(CASCADE)
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ModelError(f"OpenCV could not load {path}; FaceGate needs opencv-python-headless 4.x")
        self.min_face = min_face
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors

    def detect(self, image: np.ndarray) -> list[Face]:
        """Boxes of frontal faces; the score is the cascade's level weight squashed to (0, 1)."""
        gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        boxes, _, weights = self._cascade.detectMultiScale3(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_face, self.min_face),
            outputRejectLevels=True,
        )
        faces = [
            Face(box=(float(x), float(y), float(x + w), float(y + h)), score=float(1.0 / (1.0 + np.exp(-wt))))
            for (x, y, w, h), wt in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(weights).reshape(-1))
        ]
        return largest_first(faces)
