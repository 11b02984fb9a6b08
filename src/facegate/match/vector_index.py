"""Nearest stored vectors at any gallery size: an exact matrix product while small, a FAISS IVF index when large.

`VectorIndex` keeps float32 vectors (FaceNet's L2-normalised 128-d embeddings) under integer ids and answers top-k
searches with Euclidean distances, as the rest of FaceGate uses. Up to `exact_limit` vectors it searches exactly;
above, it trains a `faiss.IndexIVFFlat` (L2) on what it holds and moves the vectors there, retrains each time the
index has grown fourfold (the number of lists follows √n), and moves them back below half the limit (so a gallery
hovering at the limit does not retrain on every change). One copy of the vectors is kept at any time.

Small changes cost time in proportion to the change, not to the index (a gallery's index is updated while searches
wait): the exact store fills the holes a removal leaves with its last rows and grows by doubling, and the IVF index
keeps a hash table from id to list position (remove_ids by that table) and adds small batches on one thread.
Measured over 300,000 vectors (2-core EPYC): removing 5 took 1.5-11 ms by scanning the lists and 0.02 ms by the table;
adding 5 took 15-23 ms on two OpenMP threads (waking the second) and 0.1 ms on one. Over 30,000 exact vectors,
copying the store took 3-4 ms per change.

Why IVFFlat: on this 2-core machine, over 1M vectors (random unit vectors plus 300 real LFW faces; queries: held-out
and perturbed real faces), IVFFlat with 2048 lists built in 24 s and found the exact nearest vector for 99.3% of the
queries in 1.6 ms (128 lists probed); it adds and removes by id natively. HNSW (M 32, efConstruction 40) took 259 s
to build, found it for only 87% of the queries at efSearch 128, and cannot remove (it needs tombstones filtered at
search time and periodic rebuilds). Random unit vectors are the hardest case for a partition of the space: real
galleries, clustered by person, reach the same recall with fewer lists probed. benchmarks/search.py re-measures it.

FAISS comes with the scale extra and is imported only when an index first outgrows the limit; without it the index
stays exact (and says so once in the log): slower searches on a large gallery, the same answers.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np

from facegate.embed import DIM as EMBEDDING_DIM
from facegate.errors import FaceGateError
from facegate.extras import MissingExtraError, require

if TYPE_CHECKING:
    import faiss

log = logging.getLogger(__name__)

# Exact search of one query (one BLAS thread, 2-core EPYC) takes p50/p99 0.15/0.24 ms over 16k vectors, 0.44/0.80 ms
# over 32k, 0.98/1.34 ms over 49k and 3.1/4.3 ms over 100k: up to 32k it stays under 1 ms (5% of embedding the face)
# and needs no training, so FAISS starts above that.
EXACT_LIMIT = 32_768
# IVF lists ≈ LISTS_PER_ROOT·√n (2048 at 1M: trains in 24 s where 4096 lists take 76 s at the same recall), at most
# one per TRAINING_POINTS vectors, the fewest k-means needs per centroid; k-means trains on at most
# TRAINING_POINTS vectors per list (a sample: more adds seconds, not recall).
LISTS_PER_ROOT = 2
TRAINING_POINTS = 39
# Lists probed ≈ PROBES_PER_ROOT·√lists: recall@1 against exact search, measured on the mix above, reaches 0.99 at
# about 2.5–3.4·√lists (256 lists: 0.988 at 32 probed, 0.997 at 64; 2048: 0.993 at 128; 4096: 0.992 at 192).
PROBES_PER_ROOT = 4
# Queries×vectors distances computed at once by the exact search (64 MB of float32).
EXACT_BLOCK = 1 << 24
# FAISS's OpenMP threads for training and adding: the gate shares two cores with ONNX Runtime (one query is searched
# on one thread whatever this says).
FAISS_THREADS = 2
# Batches of fewer vectors than this are added on one thread: waking a second costs more than it saves.
PARALLEL_ADD = 4_096


class VectorIndexError(FaceGateError, ValueError):
    """Vectors, ids or k the index cannot take: wrong shape or type, ids unknown or already held."""


def squared_distances(a: np.ndarray, b: np.ndarray, b_squared: np.ndarray | None = None) -> np.ndarray:
    """Squared Euclidean distances between the rows of `a` (N×D) and `b` (M×D) as |a|² + |b|² − 2a·b (one matrix
    product); `b_squared` are the squared norms of b's rows when already known."""
    if b_squared is None:
        b_squared = (b * b).sum(axis=1)
    return (a * a).sum(axis=1)[:, None] + b_squared[None, :] - 2.0 * (a @ b.T)


def ivf_lists(n: int) -> int:
    """IVF lists for n vectors: LISTS_PER_ROOT·√n, at most one per TRAINING_POINTS vectors, at least one."""
    return max(1, min(round(LISTS_PER_ROOT * math.sqrt(n)), n // TRAINING_POINTS))


def ivf_probes(lists: int) -> int:
    """Lists searched per query: PROBES_PER_ROOT·√lists, at most all of them."""
    return min(lists, math.ceil(PROBES_PER_ROOT * math.sqrt(lists)))


class VectorIndex:
    """Top-k nearest vectors by Euclidean distance: exact up to `exact_limit` vectors, FAISS IVF above."""

    def __init__(self, dim: int = EMBEDDING_DIM, exact_limit: int = EXACT_LIMIT) -> None:
        self.dim = dim
        self.exact_limit = exact_limit
        self._held: set[int] = set()
        self._rows: dict[int, int] = {}  # exact search: the row of each id in the store
        self._store(np.zeros(0, np.int64), np.zeros((0, dim), np.float32))
        self._ivf: faiss.IndexIVFFlat | None = None
        self._trained_on = 0
        self._exact_only = False  # FAISS is not installed: search exactly at any size

    def __len__(self) -> int:
        return len(self._held)

    @property
    def uses_faiss(self) -> bool:
        """Whether searches go to the FAISS index (else: exact)."""
        return self._ivf is not None

    def add(self, ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        """Store N float32 vectors (N×dim) under N new, distinct, non-negative ids."""
        ids, vectors = self._ids(ids), self._vectors(vectors, "vectors")
        if len(ids) != len(vectors):
            raise VectorIndexError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(np.unique(ids)) != len(ids):
            raise VectorIndexError("the ids to add repeat themselves")
        taken = self._held.intersection(ids.tolist())
        if taken:
            raise VectorIndexError(f"ids already in the index: {sorted(taken)[:10]}")
        self._held.update(ids.tolist())
        if self._ivf is None:
            self._exact_add(ids, vectors)
        else:
            _faiss_threads(FAISS_THREADS if len(ids) >= PARALLEL_ADD else 1)
            self._ivf.add_with_ids(vectors, ids)
        self._rebalance()

    def remove(self, ids: np.ndarray | list[int]) -> None:
        """Drop the vectors stored under `ids` (all of which must be held)."""
        ids = np.unique(self._ids(ids))
        unknown = set(ids.tolist()) - self._held
        if unknown:
            raise VectorIndexError(f"ids not in the index: {sorted(unknown)[:10]}")
        self._held.difference_update(ids.tolist())
        if self._ivf is None:
            self._exact_remove(ids)
        else:
            import faiss

            _faiss_threads(1)
            self._ivf.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)))  # by the id table
        self._rebalance()

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest stored vectors of each query (Q×dim float32): distances (Q×k float32, ascending) and ids
        (Q×k int64); rows are padded with inf and -1 when fewer than k vectors are held."""
        queries = self._vectors(queries, "queries")
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise VectorIndexError(f"k must be a positive integer, got {k!r}")
        squared, ids = self._ivf.search(queries, k) if self._ivf is not None else self._exact_search(queries, k)
        distances = np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)
        distances[ids < 0] = np.inf
        return distances, ids

    def _ids(self, ids: np.ndarray | list[int]) -> np.ndarray:
        array = np.asarray(ids)
        if array.size == 0:
            return np.zeros(0, np.int64)
        if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
            raise VectorIndexError(f"ids must be a 1-d array of integers, got {array.dtype} of shape {array.shape}")
        if array.min() < 0:
            raise VectorIndexError("ids must be non-negative (-1 marks a missing result)")
        return array.astype(np.int64)

    def _vectors(self, vectors: np.ndarray, what: str) -> np.ndarray:
        array = np.asarray(vectors)
        if array.dtype != np.float32:
            raise VectorIndexError(f"{what} must be float32, got {array.dtype} (convert with .astype(np.float32))")
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise VectorIndexError(f"{what} must be an N×{self.dim} array, got shape {array.shape}")
        if not np.isfinite(array).all():
            raise VectorIndexError(f"{what} contain NaN or infinite values")
        return np.ascontiguousarray(array)

    def _store(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Hold exactly these ids and vectors for the exact search (squared norms computed once, here)."""
        self._exact_ids, self._exact_vectors = ids, vectors
        self._exact_squared = (vectors * vectors).sum(axis=1)
        self._count = len(ids)  # rows in use; the arrays may have room for more
        self._rows = dict(zip(ids.tolist(), range(len(ids))))

    def _exact(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored ids, vectors and squared norms in use (views)."""
        n = self._count
        return self._exact_ids[:n], self._exact_vectors[:n], self._exact_squared[:n]

    def _exact_add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Append rows to the exact store, doubling its room when full (amortised: a change copies nothing else)."""
        start, end = self._count, self._count + len(ids)
        if end > len(self._exact_ids):
            room = max(2 * end, 64)
            self._exact_ids = _grown(self._exact_ids, start, room)
            self._exact_vectors = _grown(self._exact_vectors, start, room)
            self._exact_squared = _grown(self._exact_squared, start, room)
        self._exact_ids[start:end], self._exact_vectors[start:end] = ids, vectors
        self._exact_squared[start:end] = (vectors * vectors).sum(axis=1)
        self._rows.update(zip(ids.tolist(), range(start, end)))
        self._count = end

    def _exact_remove(self, ids: np.ndarray) -> None:
        """Drop rows from the exact store: the last rows that stay move into the holes (order is not kept)."""
        gone = np.array([self._rows.pop(i) for i in ids.tolist()], np.int64)
        end = self._count - len(gone)
        holes = np.sort(gone[gone < end])
        movers = np.setdiff1d(np.arange(end, self._count), gone)  # as many as there are holes
        for array in (self._exact_ids, self._exact_vectors, self._exact_squared):
            array[holes] = array[movers]
        self._rows.update(zip(self._exact_ids[holes].tolist(), holes.tolist()))
        self._count = end

    def _exact_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Squared distances and ids of the k nearest, as FAISS returns them, by matrix products in blocks."""
        stored_ids, stored, stored_squared = self._exact()
        n, take = len(stored_ids), min(k, len(stored_ids))
        squared = np.full((len(queries), k), np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        step = max(1, EXACT_BLOCK // max(n, 1))
        for start in range(0, len(queries) if take else 0, step):
            d = squared_distances(queries[start : start + step], stored, stored_squared)
            nearest = np.argpartition(d, take - 1, axis=1)[:, :take] if take < n else np.argsort(d, axis=1)
            order = np.argsort(np.take_along_axis(d, nearest, axis=1), axis=1, kind="stable")
            rows = np.take_along_axis(nearest, order, axis=1)
            squared[start : start + step, :take] = np.take_along_axis(d, rows, axis=1)
            ids[start : start + step, :take] = stored_ids[rows]
        return squared, ids

    def _rebalance(self) -> None:
        """Move to FAISS above the limit, back to exact below half of it, retrain after growing fourfold."""
        n = len(self)
        if self._ivf is None and n > self.exact_limit and self._faiss_installed():
            self._ivf = self._train(*self._exact()[:2])
            self._store(np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32))
        elif self._ivf is not None and n <= self.exact_limit // 2:
            self._store(*self._ivf_contents())
            self._ivf = None
        elif self._ivf is not None and n >= 4 * self._trained_on:
            self._ivf = self._train(*self._ivf_contents())

    def _faiss_installed(self) -> bool:
        """Whether FAISS can be imported; the first time it cannot, log that the index stays exact."""
        if not self._exact_only:
            try:
                require("scale", "faiss", what=f"FAISS search of more than {self.exact_limit:,} vectors")
            except MissingExtraError as exc:
                log.warning("%s; searching all %d vectors exactly instead (slower, same answers)", exc, len(self))
                self._exact_only = True
        return not self._exact_only

    def _train(self, ids: np.ndarray, vectors: np.ndarray) -> faiss.IndexIVFFlat:
        """A new IVF index with lists trained on `vectors`, holding them."""
        import faiss

        _faiss_threads(FAISS_THREADS)
        lists = ivf_lists(len(ids))
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(self.dim), self.dim, lists)
        index.cp.max_points_per_centroid = TRAINING_POINTS
        index.cp.min_points_per_centroid = 1  # ivf_lists keeps TRAINING_POINTS per list unless there is one list
        index.train(vectors)
        index.add_with_ids(vectors, ids)
        # id → position, so removals need not scan every list (FAISS's stubs leave DirectMap out)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        index.nprobe = ivf_probes(lists)
        self._trained_on = len(ids)
        return index

    def _ivf_contents(self) -> tuple[np.ndarray, np.ndarray]:
        """Every id and vector held by the IVF index (IVFFlat stores the vectors as they are)."""
        from faiss.contrib.inspect_tools import get_invlist

        assert self._ivf is not None
        lists = [get_invlist(self._ivf.invlists, i) for i in range(self._ivf.nlist)]
        ids = np.concatenate([list_ids for list_ids, _ in lists])
        codes = np.concatenate([list_codes for _, list_codes in lists])
        return ids, np.ascontiguousarray(codes).view(np.float32).reshape(-1, self.dim)


def _grown(array: np.ndarray, used: int, room: int) -> np.ndarray:
    """A copy of `array` with room for `room` rows, its first `used` rows kept."""
    out = np.empty((room, *array.shape[1:]), array.dtype)
    out[:used] = array[:used]
    return out


def _faiss_threads(threads: int) -> None:
    """OpenMP threads for this thread's next FAISS calls (an OpenMP setting belongs to the thread that makes it)."""
    import faiss

    faiss.omp_set_num_threads(threads)
