"""Top-5 search over the gallery's VectorIndex, exact and FAISS side by side → benchmarks/results/search.md.

Usage: python benchmarks/search.py [--sizes 10000 100000 1000000] [--queries 1000] [--runs 3]
(`make benchmarks` runs it with OPENBLAS_NUM_THREADS=1: on two shared cores a second BLAS thread brings p99 spikes of
tens of ms to the exact search).

Every vector looks like a face. Random unit vectors would not: in 128 dimensions they lie about √2 from every face
and from each other, far from where real faces crowd, so an index that partitions the space finds the true nearest
face among them too easily. Instead:
- Queries: real FaceNet embeddings (MTCNN + warp, as the LFW benchmarks embed them) of LFW photos, the last photo of
  each of the first `--queries` people (by name) with two photos or more: each has another photo of its person
  stored.
- Stored: every other LFW photo's embedding (12,000 and more real faces; a random subset at smaller sizes), then,
  up to the size, synthetic faces from a per-identity model fitted to those real embeddings (FaceModel): identity
  centres drawn from a Gaussian fitted to the real per-person mean embeddings (people with two photos or more), each
  synthetic person given 1 to 5 photos, each photo its centre plus one real within-person residual (a real photo
  minus its person's mean, rescaled by √(n/(n−1)) for the n photos that mean was taken over), L2-normalised. The
  report checks the model against the real faces: same-person and different-person distances, and how near the
  nearest different person comes.
At each size both indexes hold the same vectors: VectorIndex kept exact, and VectorIndex on FAISS from the first
vector.

Latency: each query searched alone, p50 and p99 of one pass, the median of `--runs` passes after a warm-up pass.
Recall@1: share of queries whose nearest vector is the one exact search finds. Build: adding every vector (FAISS:
training included). Memory: growth of the process's resident memory while building (ids included).
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import gc
import os
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)
from threadpoolctl import threadpool_info

from facegate.experiments.feature_cache import FeatureCache
from facegate.experiments.lfw_benchmark import VARIANTS, LFWEmbedder
from facegate.experiments.machine import describe_machine
from facegate.experiments.openset_benchmark import lfw_people
from facegate.match.nearest import pairwise_distances
from facegate.match.vector_index import EXACT_LIMIT, FAISS_THREADS, VectorIndex, ivf_lists, ivf_probes

RESULTS = Path(__file__).resolve().parent / "results" / "search.md"
K = 5
MAX_PHOTOS = 5  # a synthetic person gets 1 to MAX_PHOTOS photos, as people are enrolled at a site
BLOCK = 100_000  # synthetic faces made at a time (bounds the float64 working memory)


@dataclass(frozen=True)
class Measured:
    """One index at one size: build seconds, memory MB, median p50 and p99 ms per query, the top-1 ids found."""

    build_s: float
    memory_mb: float
    p50_ms: float
    p99_ms: float
    top1: np.ndarray


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class RealFaces:
    """LFW embeddings split into the queries and the rest (stored), with the person of each stored one."""

    queries: np.ndarray
    query_labels: np.ndarray
    stored: np.ndarray
    stored_labels: np.ndarray


def lfw_faces() -> tuple[dict[str, list[int]], np.ndarray]:
    """Every LFW photo's embedding (cached by the feature cache) and the rows of each person's photos, by name."""
    people = lfw_people()
    files = [f for photos in people.values() for f in photos]
    cache = FeatureCache()
    try:
        embeddings = LFWEmbedder(cache).embeddings(files, VARIANTS["warp"])[0]
    finally:
        cache.close()
    row = {f: i for i, f in enumerate(files)}
    return {name: [row[f] for f in photos] for name, photos in people.items()}, embeddings


def real_faces(queries: int) -> RealFaces:
    """Every LFW photo's embedding, the last photo of the first `queries` people with two or more held out as
    queries."""
    people, embeddings = lfw_faces()
    labels = np.array([name for name, rows in people.items() for _ in rows])
    held = [rows[-1] for rows in people.values() if len(rows) >= 2][:queries]
    keep = np.setdiff1d(np.arange(len(embeddings)), held)
    return RealFaces(embeddings[held], labels[held], embeddings[keep], labels[keep])


@dataclass(frozen=True)
class FaceModel:
    """A per-identity model of real face embeddings: a Gaussian over identity centres and real within-person
    residuals (see the module docstring)."""

    centre_mean: np.ndarray
    centre_factor: np.ndarray  # Cholesky factor of the centres' covariance
    residuals: np.ndarray

    @classmethod
    def fit(cls, embeddings: np.ndarray, labels: np.ndarray) -> FaceModel:
        """Fit to the embeddings of people with two photos or more."""
        _, person, counts = np.unique(labels, return_inverse=True, return_counts=True)
        several = counts[person] >= 2
        x, person = embeddings[several].astype(np.float64), person[several]
        means = np.zeros((counts.size, x.shape[1]))
        np.add.at(means, person, x)
        means /= np.maximum(counts, 1)[:, None]
        n = counts[person][:, None]
        residuals = (x - means[person]) * np.sqrt(n / (n - 1))
        centres = means[counts >= 2]
        covariance = np.cov(centres, rowvar=False) + 1e-9 * np.eye(x.shape[1])
        return cls(centres.mean(axis=0), np.linalg.cholesky(covariance), residuals)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n unit embeddings of synthetic people with 1 to MAX_PHOTOS photos each, and each one's person number."""
        embeddings, person = self.people(rng.integers(1, MAX_PHOTOS + 1, size=n), rng)
        return embeddings[:n], person[:n]

    def people(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Unit embeddings of len(counts) synthetic people, counts[i] photos of person i, and each one's person."""
        person = np.repeat(np.arange(len(counts)), counts)
        centres = self.centre_mean + rng.standard_normal((len(counts), self.centre_mean.size)) @ self.centre_factor.T
        out = np.empty((len(person), self.centre_mean.size), np.float32)
        for start in range(0, len(person), BLOCK):
            rows = person[start : start + BLOCK]
            drawn = self.residuals[rng.integers(len(self.residuals), size=len(rows))]
            out[start : start + len(rows)] = unit(centres[rows] + drawn)
        return out, person


def dataset(size: int, real: RealFaces, model: FaceModel, seed: int = 0) -> np.ndarray:
    """`size` vectors: real LFW faces (a random subset where they are more than `size`), then synthetic ones."""
    rng = np.random.default_rng(seed)
    if size <= len(real.stored):
        return real.stored[np.sort(rng.choice(len(real.stored), size, replace=False))]
    return np.concatenate([real.stored, model.sample(size - len(real.stored), rng)[0]])


def _pair_distances(
    x: np.ndarray, person: np.ndarray, rng: np.random.Generator, pairs: int = 20_000
) -> tuple[np.ndarray, np.ndarray]:
    """Distances of random same-person pairs and of random different-person pairs."""
    a, b = rng.integers(len(x), size=(2, pairs * 20))
    same = (person[a] == person[b]) & (a != b)
    different = person[a] != person[b]
    d = np.linalg.norm(x[a] - x[b], axis=1)
    return d[same][:pairs], d[different][:pairs]


def realism(real: RealFaces, model: FaceModel, seed: int = 2) -> str:
    """Markdown table: how synthetic faces compare with real ones and with random unit vectors."""
    rng = np.random.default_rng(seed)
    _, person = np.unique(real.stored_labels, return_inverse=True)
    synthetic, synthetic_person = model.sample(len(real.stored), rng)
    random_unit = unit(rng.standard_normal(real.stored.shape))
    lines = [
        (
            "| stored faces | same person, median | different people, median / 1st percentile | a query's "
            "nearest stranger, median |"
        ),
        "|---|---|---|---|",
    ]
    for name, x, who in (
        ("real LFW", real.stored, person),
        ("synthetic (FaceModel)", synthetic, synthetic_person),
        ("random unit vectors", random_unit, np.arange(len(random_unit))),
    ):
        same, different = _pair_distances(x, who, rng)
        d = pairwise_distances(real.queries, x)
        if x is real.stored:  # a stranger: not the query's own person
            d[real.query_labels[:, None] == real.stored_labels[None, :]] = np.inf
        nearest = d.min(axis=1)
        same_text = f"{np.median(same):.3f}" if len(same) else "–"
        lines.append(
            f"| {name} | {same_text} | {np.median(different):.3f} / {np.percentile(different, 1):.3f} "
            f"| {np.median(nearest):.3f} |"
        )
    return "\n".join(lines)


def resident_mb() -> float:
    """This process's resident memory once freed memory is handed back to the system."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(vectors: np.ndarray, queries: np.ndarray, exact_limit: int, runs: int) -> Measured:
    """Build one index over `vectors` and time each query alone."""
    before, start = resident_mb(), time.perf_counter()
    index = VectorIndex(exact_limit=exact_limit)
    index.add(np.arange(len(vectors)), vectors)
    build_s, memory_mb = time.perf_counter() - start, resident_mb() - before
    top1 = np.stack([index.search(q[None], K)[1][0, 0] for q in queries])  # the warm-up pass
    p50s, p99s = [], []
    for _ in range(runs):
        times = []
        for q in queries:
            start = time.perf_counter()
            index.search(q[None], K)
            times.append(time.perf_counter() - start)
        p50s.append(np.percentile(times, 50) * 1000)
        p99s.append(np.percentile(times, 99) * 1000)
    return Measured(build_s, memory_mb, statistics.median(p50s), statistics.median(p99s), top1)


def blas_threads() -> str:
    return ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info() if p["user_api"] == "blas")


def report(
    rows: list[tuple[int, Measured, Measured]],
    real: RealFaces,
    model_check: str,
    runs: int,
    command: str,
    seconds: float,
    load: tuple[float, float],
) -> str:
    lines = [
        "# Vector search: exact and FAISS",
        "",
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        (
            f"- Machine: {describe_machine()}; BLAS threads: {blas_threads()}; FAISS {faiss.__version__}, "
            f"{FAISS_THREADS} OpenMP threads"
        ),
        f"- Command: `{command}` ({seconds:.0f} s)",
        (
            f"- Load average (1 min) at the start / end: {load[0]:.1f} / {load[1]:.1f} on {os.cpu_count()} CPUs: other "
            "jobs on a shared machine lengthen the latencies (p99 most), never the recall."
        ),
        (
            f"- Queries: {len(real.queries)} real FaceNet embeddings of LFW photos, each person's last photo (people "
            f"with two or more); top-{K} per query."
        ),
        (
            f"- Stored: the {len(real.stored):,} other LFW photos' embeddings (a random subset at smaller sizes), then "
            f"synthetic faces: identity centres from a Gaussian fitted to the real per-person means, 1 to {MAX_PHOTOS} "
            "photos per synthetic person, each its centre plus a real within-person residual, L2-normalised "
            "(benchmarks/search.py says how). Until 2026-12 the stored vectors were random unit vectors, which lie "
            "about √2 from every face and flattered FAISS's recall."
        ),
        (
            f"- Latency: one query at a time, median over {runs} passes after a warm-up; recall@1: the exact nearest "
            "vector found. FAISS: IndexIVFFlat (L2), lists and lists probed as VectorIndex chooses them."
        ),
        f"- VectorIndex searches exactly up to {EXACT_LIMIT:,} vectors and with FAISS above.",
        "",
        (
            "| vectors | exact p50 / p99 ms | FAISS p50 / p99 ms | FAISS recall@1 | exact build s / MB "
            "| FAISS build s / MB | FAISS lists / probed |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for size, exact, ivf in rows:
        lists = ivf_lists(size)
        lines.append(
            f"| {size:,} | {exact.p50_ms:.2f} / {exact.p99_ms:.2f} | {ivf.p50_ms:.2f} / {ivf.p99_ms:.2f} "
            f"| {(ivf.top1 == exact.top1).mean():.4f} | {exact.build_s:.1f} / {exact.memory_mb:.0f} "
            f"| {ivf.build_s:.1f} / {ivf.memory_mb:.0f} | {lists} / {ivf_probes(lists)} |"
        )
    lines += [
        "",
        (
            "How face-like the stored vectors are (Euclidean distances between unit embeddings; equal numbers "
            "of each kind; a query's nearest stranger: its nearest stored face of another person):"
        ),
        "",
        model_check,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=1000, help="real LFW photos searched (one per person)")
    parser.add_argument("--runs", type=int, default=3, help="timed passes per index")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started, load_at_start = time.monotonic(), os.getloadavg()[0]
    real = real_faces(args.queries)
    model = FaceModel.fit(real.stored, real.stored_labels)
    model_check = realism(real, model)
    print(model_check, file=sys.stderr)
    rows = []
    for size in args.sizes:
        vectors = dataset(size, real, model)
        exact, ivf = measure(vectors, real.queries, size, args.runs), measure(vectors, real.queries, 0, args.runs)
        rows.append((size, exact, ivf))
        print(
            f"{size:,}: exact p99 {exact.p99_ms:.2f} ms, FAISS p99 {ivf.p99_ms:.2f} ms, recall@1 "
            f"{(ivf.top1 == exact.top1).mean():.4f}",
            file=sys.stderr,
        )
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    text = report(
        rows, real, model_check, args.runs, command, time.monotonic() - started, (load_at_start, os.getloadavg()[0])
    )
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
