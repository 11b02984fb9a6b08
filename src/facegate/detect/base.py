"""What a detector returns (Face) and what every detector provides (Detector)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")  # as seen in the image

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels


def as_box(values: Iterable[float], ndigits: int | None = None) -> Box:
    """Four numbers (any array or sequence) as a Box of Python floats, rounded to `ndigits` when given."""
    x1, y1, x2, y2 = (float(v) if ndigits is None else round(float(v), ndigits) for v in values)
    return (x1, y1, x2, y2)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in `a` (N×4) with every box in `b` (M×4)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return (inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)).astype(np.float32)


@dataclass(frozen=True)
class Face:
    """One detected face: box (x1, y1, x2, y2) in pixels, confidence, and 5 landmarks (5×2) when known."""

    box: Box
    score: float
    landmarks: np.ndarray | None = None

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: box, score and named landmarks."""
        out: dict[str, Any] = {"box": [round(float(v), 1) for v in self.box], "score": round(float(self.score), 4)}
        if self.landmarks is not None:
            out["landmarks"] = {
                n: [round(float(x), 1), round(float(y), 1)] for n, (x, y) in zip(LANDMARK_NAMES, self.landmarks)
            }
        return out


def largest_first(faces: list[Face]) -> list[Face]:
    """Order faces by box area, largest first (the order every detector returns)."""
    return sorted(faces, key=lambda f: f.area, reverse=True)


class Detector(Protocol):
    """A face detector: RGB uint8 image in, faces (largest first) out."""

    name: str

    def detect(self, image: np.ndarray) -> list[Face]:
        """Find faces in an H×W×3 RGB uint8 image."""
        ...
