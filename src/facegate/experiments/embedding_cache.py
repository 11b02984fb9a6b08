"""Embeddings of labelled photo folders, computed once and cached by file content (sha256).

Stored in the shared FeatureCache: every face's embedding, plus the largest face's aligned crop (the report's
thumbnail). The variant name covers the pipeline settings and the FaceNet file, the FeatureCache's version the
code and the models, so changing any of them re-embeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facegate.errors import FaceGateError
from facegate.experiments.feature_cache import FeatureCache, model_key
from facegate.imageio import IMAGE_SUFFIXES
from facegate.pipeline import FaceGate

CACHE_VERSION = 1  # bump when the stored layout changes


class DatasetError(FaceGateError, ValueError):
    """A photo folder is missing, empty or not laid out as one sub-folder per person."""


@dataclass(frozen=True)
class LabelledFaces:
    """The largest face of every photo that has one: embeddings (N×128), labels, source paths, crops."""

    embeddings: np.ndarray
    labels: np.ndarray
    paths: list[Path]
    crops: np.ndarray
    skipped: list[Path]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> LabelledFaces:
        """The faces where mask is true (skipped photos are kept as they were)."""
        keep = np.flatnonzero(mask)
        return LabelledFaces(
            self.embeddings[keep], self.labels[keep], [self.paths[i] for i in keep], self.crops[keep], self.skipped
        )


def _pipeline_key(fg: FaceGate) -> str:
    """What besides the photo and the code version (the FeatureCache's) decides its embeddings: the cache layout,
    the pipeline's settings and the FaceNet file it runs (which says the precision)."""
    return f"v{CACHE_VERSION}/{model_key(fg.embedder.model)}/{fg.detector_name}-min{fg.min_face}-{fg.alignment}"


class EmbeddingCache:
    """Embeds photos through a FaceGate, keeping each photo's embeddings and crop in a FeatureCache."""

    def __init__(self, fg: FaceGate | None = None, root: Path | None = None) -> None:
        self.fg = fg or FaceGate()
        self.store = FeatureCache(root)
        self.variant = f"represent/{_pipeline_key(self.fg)}"

    def faces(self, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
        """All embeddings of the photo (largest face first) and the largest face's crop (None: no face)."""
        key = self.store.key(path)
        embeddings = self.store.get_many(f"{self.variant}/embeddings", [key]).get(key)
        crops = self.store.get_many(f"{self.variant}/crop", [key]) if embeddings is not None else {}
        if embeddings is None or key not in crops:
            found = self.fg.represent(path)
            embeddings = np.stack([f.embedding for f in found]) if found else np.zeros((0, 128), np.float32)
            crops = {key: found[0].crop if found else np.zeros((0, 0, 3), np.uint8)}
            self.store.put_many(f"{self.variant}/crop", crops)
            self.store.put_many(f"{self.variant}/embeddings", {key: embeddings})
        crop = crops[key]
        return embeddings, (crop if crop.size else None)

    def folder(self, root: Path, desc: str | None = None) -> LabelledFaces:
        """The largest face of every photo under root/<person>/ (photos without a face are listed as skipped)."""
        photos = list_photos(root)
        vectors, labels, paths, crops, skipped = [], [], [], [], []
        for path in tqdm(photos, desc=desc or f"embedding {root.name}", unit="img", leave=False):
            embeddings, crop = self.faces(path)
            if crop is None:
                skipped.append(path)
                continue
            vectors.append(embeddings[0])
            labels.append(path.parent.name)
            paths.append(path)
            crops.append(crop)
        if not vectors:
            raise DatasetError(f"no face found in any of the {len(photos)} photos under {root}")
        return LabelledFaces(np.asarray(vectors, np.float32), np.asarray(labels), paths, np.stack(crops), skipped)


def list_photos(root: Path) -> list[Path]:
    """Photos in root/<person>/, sorted; DatasetError when the folder has none."""
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder (expected one sub-folder of photos per person)")
    photos = sorted(p for p in root.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not photos:
        raise DatasetError(f"{root} has no photos in person sub-folders (expected {root}/<person>/*.jpg)")
    return photos
