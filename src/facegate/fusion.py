"""FaceNet and the VGGFace2-trained network as one embedder (model "fusion"): their unit embeddings, weighted and
concatenated. On LFW's open-set benchmark it misses fewer enrolled people than FaceNet alone at the same share of
strangers accepted (README, "Fusion"); it costs both networks' time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facegate.embed import MODEL_DIMS, Embedder
from facegate.faceres import FaceResNet, FaceResOutput

# The VGGFace2 network's weight, chosen by ROC AUC on LFW's pairsDevTrain (benchmarks/fusion.py; never on pairs.txt).
FUSION_WEIGHT = 0.3


def fuse(facenet: np.ndarray, vggface2: np.ndarray, weight: float = FUSION_WEIGHT) -> np.ndarray:
    """Two models' unit embeddings as one unit vector: each scaled by the square root of its weight and the two
    concatenated, so squared distances (and cosine similarities) are the weighted sums of the two models' own. A
    weighted sum of z-scored similarities is one of these, with the weights divided by each model's spread."""
    return np.hstack([np.sqrt(1.0 - weight) * facenet, np.sqrt(weight) * vggface2]).astype(np.float32)


class FusedEmbedder:
    """FaceNet and faceres on the same aligned crops; `embed` gives N×1152 fused unit vectors, `run` adds faceres's
    age and gender."""

    dim = MODEL_DIMS["fusion"]

    def __init__(self, facenet: Embedder, faceres: FaceResNet) -> None:
        self.facenet = facenet
        self.faceres = faceres
        self.model = Path(f"fusion-w{FUSION_WEIGHT:g}")  # names the combination where caches key on a model file

    def run(self, crops: np.ndarray) -> FaceResOutput:
        """Fused embeddings and attributes of N×160×160×3 uint8 aligned crops."""
        out = self.faceres.run(crops)
        return FaceResOutput(fuse(self.facenet.embed(crops), out.embeddings), out.attributes)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """N×1152 fused unit embeddings."""
        return self.run(crops).embeddings
