"""What a detector returns (Face) and what every detector provides (Detector)."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")  # as seen in the image

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels


def as_box(values: Iterable[float], ndigits: int | None = None) -> Box:
    """Four numbers (any array or sequence) as a Box of Python floats, rounded to `ndigits` when given."""
    x1, y1, x2, y2 = (float(v) if ndigits is None else round(float(v), ndigits) for v in values)
    return (x1, y1, x2, y2)


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
            out["landmarks"] = {n: [round(float(x), 1), round(float(y), 1)]
                                for n, (x, y) in zip(LANDMARK_NAMES, self.landmarks)}
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
