"""The gallery's enrolled samples in a VectorIndex, kept in step with the database: which samples look most alike."""

from __future__ import annotations

import threading
from collections import Counter
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
    reads what changed since the revision it follows: the samples added (ids only grow) with their embeddings, and
    the ids the deletion log holds, never every embedding or sample id (unless the log no longer reaches back that
    far, or PostgreSQL's count of samples disagrees with what it read). The database is read outside the search lock:
    searches wait only for the in-memory update, which costs time in proportion to the change."""

    def __init__(self, gallery: Gallery, exact_limit: int = EXACT_LIMIT) -> None:
        self.gallery = gallery
        self.index = VectorIndex(exact_limit=exact_limit)
        self.revision: int | None = None  # the gallery revision the index follows
        self._samples: dict[int, SampleRef] = {}  # what the index holds
        self._people: Counter[int] = Counter()  # samples held per person
        self._newest = 0  # the largest sample id ever held
        self._lock = threading.Lock()  # the index and its maps (searches and updates)
        self._syncing = threading.Lock()  # one sync at a time

    def sync(self) -> int:
        """Bring the index up to the gallery's current revision (nothing to do when it has not moved); returns the
        revision it now follows."""
        with self._syncing:
            revision = self.gallery.revision()
            if revision == self.revision:
                return revision
            # from the newest held on: a gallery made before ids were never reused may hand it out again
            changes = self.gallery.sample_changes(self.revision, self._newest)
            fresh = dict(changes.added)
            new = [i for i, ref in fresh.items() if self._samples.get(i) != ref]
            gone = {i for i in new if i in self._samples}  # replaced under the same id
            gone.update(i for i in changes.deleted or () if i in self._samples)
            counted = changes.count is None or changes.count == len(self._samples) - len(gone) + len(new)
            if changes.deleted is None or not counted:
                gone, new = self._reconcile(fresh)
            ids, vectors = self.gallery.embeddings_by_ids(new)  # those deleted meanwhile are left for next time
            with self._lock:
                self._update(list(gone), ids, vectors, fresh)
                self.revision = changes.revision
            return changes.revision

    def _reconcile(self, fresh: dict[int, SampleRef]) -> tuple[set[int], list[int]]:
        """Every sample id read, for when the deletion log does not reach back to the revision followed (or the count
        disagrees: on PostgreSQL a sample can commit after one with a higher id): the held samples gone, and the
        samples to add (their refs put into `fresh`)."""
        held = np.fromiter(self._samples, np.int64, len(self._samples))
        stored = self.gallery.sample_ids()
        missing = np.setdiff1d(np.setdiff1d(stored, held), np.fromiter(fresh, np.int64, len(fresh)))
        if len(missing):
            wanted = set(missing.tolist())
            fresh.update((i, r) for i, r in self.gallery.sample_refs(since=int(missing[0])).items() if i in wanted)
        new = [i for i, ref in fresh.items() if self._samples.get(i) != ref]
        gone = set(np.setdiff1d(held, stored).tolist()) | {i for i in new if i in self._samples}
        return gone, new

    def _update(self, gone: list[int], ids: np.ndarray, vectors: np.ndarray, refs: dict[int, SampleRef]) -> None:
        """Drop the samples `gone` and add `ids` with their vectors (under the lock)."""
        self.index.remove(gone)
        for i in gone:
            person = self._samples.pop(i).person_id
            self._people[person] -= 1
            if not self._people[person]:
                del self._people[person]
        if not self._samples:  # empty: the samples may be another model's (a gallery holds one at a time)
            self.index = VectorIndex(dim=vectors.shape[1], exact_limit=self.index.exact_limit)
        self.index.add(ids, vectors)
        for i in ids.tolist():
            self._samples[i] = refs[i]
            self._people[refs[i].person_id] += 1
        self._newest = max(self._newest, int(ids.max(initial=0)))

    def people(self) -> int:
        """How many people have samples in the index."""
        with self._lock:
            return len(self._people)

    def photos_per_person(self) -> list[int]:
        """How many samples the index holds of each person (what the operating point's union bound counts)."""
        with self._lock:
            return list(self._people.values())

    def nearest(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distance to the nearest enrolled sample of each of N×D float32 embeddings and its person's id (-1 and
        inf when nobody is enrolled), as the index holds them now: no revision check, no database read."""
        with self._lock:
            if not self._samples:
                return np.full(len(embeddings), np.inf, np.float32), np.full(len(embeddings), -1, np.int64)
            distances, ids = self.index.search(embeddings, 1)
            owners = np.array([self._samples[i].person_id for i in ids[:, 0].tolist()], np.int64)
        return distances[:, 0], owners

    def search(self, embeddings: np.ndarray, k: int = 5) -> list[list[Hit]]:
        """The k nearest enrolled samples of each of N×D float32 embeddings, nearest first (fewer when fewer are
        enrolled)."""
        self.sync()
        with self._lock:
            if not self._samples:  # nobody enrolled: no hits, whatever model made the embeddings
                return [[] for _ in range(len(embeddings))]
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
