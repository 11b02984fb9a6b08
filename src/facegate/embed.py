"""FaceNet embeddings: aligned 160×160 crops → L2-normalised 128-d float32 vectors, in batches."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from facegate.onnx_session import make_session

DIM = 128
# The embedding models FaceGate runs and their embedding sizes: FaceNet (this module), the VGGFace2-trained HSE
# faceres network (facegate/faceres.py) and the two fused (facegate/fusion.py). Embeddings of different models are
# never compared with each other.
EmbeddingModel = Literal["facenet", "vggface2", "fusion"]
MODEL_DIMS: dict[str, int] = {"facenet": DIM, "vggface2": 1024, "fusion": DIM + 1024}


def prewhiten(crops: np.ndarray) -> np.ndarray:
    """Per-image standardisation, as FaceNet was trained: (x − mean) / max(std, 1/√N), float32 throughout."""
    x = crops.astype(np.float32)
    axes = tuple(range(1, x.ndim))
    mean = x.mean(axis=axes, keepdims=True, dtype=np.float32)
    std = x.std(axis=axes, keepdims=True, dtype=np.float32)
    floor = np.float32(1.0 / np.sqrt(x[0].size))
    return (x - mean) / np.maximum(std, floor)


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, np.float32(1e-12))).astype(np.float32)


class Embedder:
    """FaceNet in ONNX Runtime. `embed` takes N×160×160×3 uint8 RGB crops and returns N×128 unit vectors."""

    def __init__(self, model: Path, batch_size: int = 32, threads: int | None = None) -> None:
        self.model = model
        self.batch_size = batch_size
        self._session = make_session(model, threads)
        self._input = self._session.get_inputs()[0].name

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """Embeddings of aligned crops, computed `batch_size` at a time."""
        if crops.ndim != 4 or crops.shape[1:] != (160, 160, 3):
            raise ValueError(f"expected N×160×160×3 crops, got shape {crops.shape}")
        out = np.zeros((len(crops), DIM), dtype=np.float32)
        for start in range(0, len(crops), self.batch_size):
            batch = prewhiten(crops[start : start + self.batch_size])
            out[start : start + len(batch)] = self._session.run(None, {self._input: batch})[0]
        return l2_normalise(out)
