"""The gallery's enrolled samples in a VectorIndex, kept in step with the database: which samples look most alike."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from facegate.gallery.repository import Gallery, SampleRef
from facegate.match.vector_index import EXACT_LIMIT, VectorIndex


@dataclass(frozen=True)
class Hit:
    """One enrolled sample near a searched face."""

    sample_id: int
    person_id: int
    person: str | None  # None: the person was deleted since the index last followed the gallery
    distance: float


class GalleryVectorIndex:
    """Nearest enrolled samples of faces. Before each search it checks the gallery revision and, when it moved,
    reads only the sample ids (adding the embeddings of new samples, dropping deleted ones), never all embeddings."""

    def __init__(self, gallery: Gallery, exact_limit: int = EXACT_LIMIT) -> None:
        self.gallery = gallery
        self.index = VectorIndex(exact_limit=exact_limit)
        self.revision: int | None = None  # the gallery revision the index follows
        self._samples: dict[int, SampleRef] = {}  # what the index holds
        self._lock = threading.Lock()

    def sync(self) -> None:
        """Bring the index up to the gallery's current revision (nothing to do when it has not moved)."""
        with self._lock:
            revision = self.gallery.revision()  # read before the samples: a change in between is seen next time
            if revision == self.revision:
                return
            current = self.gallery.sample_refs()
            gone = [i for i, ref in self._samples.items() if current.get(i) != ref]
            self.index.remove(gone)
            for i in gone:
                del self._samples[i]
            new = [i for i, ref in current.items() if self._samples.get(i) != ref]
            ids, vectors = self.gallery.embeddings_by_ids(new)  # those deleted meanwhile are left for next time
            if not self._samples:  # empty: the samples may be another model's (a gallery holds one at a time)
                self.index = VectorIndex(dim=vectors.shape[1], exact_limit=self.index.exact_limit)
            self.index.add(ids, vectors)
            self._samples.update((i, current[i]) for i in ids.tolist())
            self.revision = revision

    def search(self, embeddings: np.ndarray, k: int = 5) -> list[list[Hit]]:
        """The k nearest enrolled samples of each of N×D float32 embeddings, nearest first (fewer when fewer are
        enrolled)."""
        self.sync()
        if not self._samples:  # nobody enrolled: no hits, whatever model made the embeddings
            return [[] for _ in range(len(embeddings))]
        with self._lock:
            distances, ids = self.index.search(embeddings, k)
            owners = [[self._samples[i].person_id for i in row if i >= 0] for row in ids.tolist()]  # -1 pads last
        names = self.gallery.names([p for row in owners for p in row])
        return [
            [
                Hit(sample, person, names.get(person), distance)
                for sample, person, distance in zip(id_row, owner_row, distance_row)
            ]
            for id_row, owner_row, distance_row in zip(ids.tolist(), owners, distances.tolist())
        ]
