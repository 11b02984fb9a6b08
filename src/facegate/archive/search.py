"""Find a person in a photo archive: the faces of an index built by `facegate index` nearest to a probe face.

A changed photo keeps its old rows in a Parquet index (they are told apart by sha256): only the rows of each
photo's latest indexed version are searched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facegate.archive.rows import OK
from facegate.archive.store import IndexStore
from facegate.detect.base import Box, as_box
from facegate.match.vector_index import VectorIndex


@dataclass(frozen=True)
class ArchiveHit:
    """An indexed face near the probe: the photo (relative to the indexed folder), which face, where, how near."""

    path: str
    face: int
    box: Box
    distance: float


@dataclass(frozen=True)
class ArchiveFaces:
    """The searchable faces of an index: one row each, with its photo, face number, box and embedding."""

    paths: list[str]
    faces: list[int]
    boxes: list[Box]
    embeddings: np.ndarray

    @classmethod
    def read(cls, store: IndexStore) -> ArchiveFaces:
        """The face rows of each photo's latest indexed version."""
        rows = [r for r in store.read().to_pylist() if r["status"] == OK and r["embedding"] is not None]
        latest = {r["path"]: r["sha256"] for r in rows}  # rows come in the order they were written
        rows = [r for r in rows if latest[r["path"]] == r["sha256"]]
        embeddings = np.asarray([r["embedding"] for r in rows], np.float32).reshape(len(rows), -1 if rows else 128)
        return cls(
            [r["path"] for r in rows], [int(r["face"]) for r in rows], [as_box(r["box"], 1) for r in rows], embeddings
        )

    @property
    def dim(self) -> int:
        """The embeddings' length."""
        return int(self.embeddings.shape[1])

    def search(self, probes: np.ndarray, k: int) -> list[list[ArchiveHit]]:
        """The k indexed faces nearest each probe embedding (N×D), nearest first."""
        if not len(self.paths):
            return [[] for _ in range(len(probes))]
        index = VectorIndex(dim=self.dim)
        index.add(np.arange(len(self.paths)), self.embeddings)
        distances, ids = index.search(np.asarray(probes, np.float32), min(k, len(self.paths)))
        return [
            [ArchiveHit(self.paths[i], self.faces[i], self.boxes[i], float(d)) for i, d in zip(row, dist) if i >= 0]
            for row, dist in zip(ids.tolist(), distances.tolist())
        ]
