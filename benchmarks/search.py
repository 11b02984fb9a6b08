"""Top-5 search over the gallery's VectorIndex, exact and FAISS side by side → benchmarks/results/search.md.

Usage: python benchmarks/search.py [--sizes 10000 100000 1000000] [--queries 1000] [--runs 3]
(`make benchmarks` runs it with OPENBLAS_NUM_THREADS=1: on two shared cores a second BLAS thread brings p99 spikes of
tens of ms to the exact search).

Stored vectors: random unit vectors (the hardest case for an index that partitions the space) plus 300 real FaceNet
embeddings, 3 LFW photos each of the first 100 people with 4 or more. Queries: the 4th photo of each of them, and
perturbed copies of the stored real faces (noise moving them about 0.6, a typical distance to the nearest photo of the
same person), so the true nearest vector of every query is a real face. At each size both indexes hold the same
vectors: VectorIndex kept exact, and VectorIndex on FAISS from the first vector.

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
from threadpoolctl import threadpool_info

import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)
from facegate.experiments.embedding_cache import EmbeddingCache
from facegate.experiments.lfw import lfw_dir
from facegate.experiments.machine import describe_machine
from facegate.match.vector_index import EXACT_LIMIT, FAISS_THREADS, VectorIndex, ivf_lists, ivf_probes

RESULTS = Path(__file__).resolve().parent / "results" / "search.md"
PEOPLE, STORED_PER_PERSON = 100, 3
PERTURBATION = 0.06  # per-dimension noise: moves a unit vector about 0.6
K = 5


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


def real_faces() -> tuple[np.ndarray, np.ndarray]:
    """Stored (people×3) and held-out (one per person) embeddings of LFW photos, computed once and cached."""
    folder = lfw_dir() / "images_deepfunneled"
    if not folder.is_dir():
        sys.exit(f"{folder}: not found; set $FACEGATE_LFW to the LFW folder")
    people = [d for d in sorted(folder.iterdir()) if len(list(d.glob("*.jpg"))) > STORED_PER_PERSON][:PEOPLE]
    cache, stored, held_out = EmbeddingCache(), [], []
    for person in people:
        found = [cache.faces(p)[0] for p in sorted(person.glob("*.jpg"))[:STORED_PER_PERSON + 1]]
        faces = [f[0] for f in found if len(f)]
        stored += faces[:STORED_PER_PERSON]
        held_out += faces[STORED_PER_PERSON:]
    return np.asarray(stored, np.float32), np.asarray(held_out, np.float32)


def dataset(size: int, stored: np.ndarray, queries: np.ndarray, seed: int = 0) -> np.ndarray:
    """`size` vectors: random unit vectors with the real faces among them at random places."""
    rng = np.random.default_rng(seed)
    vectors = np.empty((size, stored.shape[1]), np.float32)
    for start in range(0, size, 100_000):
        block = vectors[start:start + 100_000]
        block[:] = unit(rng.standard_normal(block.shape, dtype=np.float32))
    vectors[rng.choice(size, len(stored), replace=False)] = stored
    return vectors


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


def report(rows: list[tuple[int, Measured, Measured]], queries: int, runs: int, command: str, seconds: float) -> str:
    lines = [
        "# Vector search: exact and FAISS",
        "",
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {describe_machine()}; BLAS threads: {blas_threads()}; FAISS {faiss.__version__}, "
        f"{FAISS_THREADS} OpenMP threads",
        f"- Command: `{command}` ({seconds:.0f} s)",
        f"- Stored: random unit vectors plus {PEOPLE * STORED_PER_PERSON} real FaceNet embeddings of LFW photos; "
        f"{queries} queries: held-out photos of the same people and perturbed stored faces; top-{K} per query.",
        f"- Latency: one query at a time, median over {runs} passes after a warm-up; recall@1: the exact nearest "
        "vector found. FAISS: IndexIVFFlat (L2), lists and lists probed as VectorIndex chooses them.",
        f"- VectorIndex searches exactly up to {EXACT_LIMIT:,} vectors and with FAISS above.",
        "",
        "| vectors | exact p50 / p99 ms | FAISS p50 / p99 ms | FAISS recall@1 | exact build s / MB | FAISS build s / MB "
        "| FAISS lists / probed |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, exact, ivf in rows:
        lists = ivf_lists(size)
        lines.append(f"| {size:,} | {exact.p50_ms:.2f} / {exact.p99_ms:.2f} | {ivf.p50_ms:.2f} / {ivf.p99_ms:.2f} "
                     f"| {(ivf.top1 == exact.top1).mean():.4f} | {exact.build_s:.1f} / {exact.memory_mb:.0f} "
                     f"| {ivf.build_s:.1f} / {ivf.memory_mb:.0f} | {lists} / {ivf_probes(lists)} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=1000, help="held-out photos first, perturbed faces after")
    parser.add_argument("--runs", type=int, default=3, help="timed passes per index")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.monotonic()
    stored, held_out = real_faces()
    rng = np.random.default_rng(1)
    perturbed = stored[rng.integers(len(stored), size=max(0, args.queries - len(held_out)))]
    queries = np.concatenate([held_out, unit(perturbed + rng.normal(scale=PERTURBATION, size=perturbed.shape))])
    queries = queries[:args.queries]
    rows = []
    for size in args.sizes:
        vectors = dataset(size, stored, queries)
        exact, ivf = measure(vectors, queries, size, args.runs), measure(vectors, queries, 0, args.runs)
        rows.append((size, exact, ivf))
        print(f"{size:,}: exact p99 {exact.p99_ms:.2f} ms, FAISS p99 {ivf.p99_ms:.2f} ms, recall@1 "
              f"{(ivf.top1 == exact.top1).mean():.4f}", file=sys.stderr)
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    text = report(rows, len(queries), args.runs, command, time.monotonic() - started)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
